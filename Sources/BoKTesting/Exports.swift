// Tests reach the stand-in through BoKTesting, as before it had a target of its own.
@_exported import KubeAPIStandIn
