@_exported import BoKSystem
