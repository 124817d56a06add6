import Foundation

/// What an ELF executable needs from the machine it runs on: its shared libraries (`DT_NEEDED`),
/// where it looks for them first (`DT_RUNPATH`/`DT_RPATH`) and its program interpreter, read from
/// the file itself (the same data `readelf -d` prints), so the installer can name what a node lacks
/// before it swaps a binary in.
public struct ELFDependencies: Sendable, Equatable {
    /// `DT_NEEDED` entries in file order, e.g. `libcurl.so.4`.
    public var needed: [String]
    /// `DT_RUNPATH` (or the older `DT_RPATH`) directories.
    public var runpath: [String]
    /// `PT_INTERP`, e.g. `/lib64/ld-linux-x86-64.so.2`; nil for a static executable.
    public var interpreter: String?
    /// `e_machine` name: `x86_64`, `aarch64`, … (or the number).
    public var machine: String

    /// Whether the binary needs the Swift runtime's shared libraries (a build without
    /// `--static-swift-stdlib`): such a binary starts only where a Swift toolchain is installed.
    public var needsSwiftRuntime: Bool {
        needed.contains {
            $0.hasPrefix("libswift") || $0.hasPrefix("libFoundation") || $0.hasPrefix("libdispatch")
                || $0.hasPrefix("libBlocksRuntime")
        }
    }

    public init(needed: [String], runpath: [String], interpreter: String?, machine: String) {
        self.needed = needed
        self.runpath = runpath
        self.interpreter = interpreter
        self.machine = machine
    }

    /// Parses an ELF image. Returns nil when `data` is not ELF at all (a script, say: it has no
    /// dynamic dependencies to check); throws when it is ELF but malformed.
    public static func parse(_ data: Data) throws(ELFFormatError) -> ELFDependencies? {
        let bytes = [UInt8](data)
        guard bytes.count >= 16, bytes[0] == 0x7f, bytes[1] == 0x45, bytes[2] == 0x4c, bytes[3] == 0x46
        else { return nil }
        let is64: Bool
        switch bytes[4] {
        case 1: is64 = false
        case 2: is64 = true
        default: throw ELFFormatError("unknown ELF class \(bytes[4])")
        }
        guard bytes[5] == 1 else {
            throw ELFFormatError("big-endian ELF is not supported (EI_DATA \(bytes[5]))")
        }
        let reader = ELFReader(bytes: bytes, is64: is64)

        let machine = try reader.u16(18)
        let phoff = try is64 ? Int(reader.u64(32)) : Int(reader.u32(28))
        let phentsize = try Int(reader.u16(is64 ? 54 : 42))
        let phnum = try Int(reader.u16(is64 ? 56 : 44))
        guard phentsize >= (is64 ? 56 : 32) || phnum == 0 else {
            throw ELFFormatError("program header entries of \(phentsize) bytes")
        }

        struct Segment { var type: UInt32, offset: Int, vaddr: UInt64, filesz: Int }
        var segments: [Segment] = []
        for i in 0..<phnum {
            let at = phoff + i * phentsize
            let type = try reader.u32(at)
            if is64 {
                segments.append(
                    Segment(
                        type: type, offset: Int(try reader.u64(at + 8)), vaddr: try reader.u64(at + 16),
                        filesz: Int(try reader.u64(at + 32))))
            } else {
                segments.append(
                    Segment(
                        type: type, offset: Int(try reader.u32(at + 4)), vaddr: UInt64(try reader.u32(at + 8)),
                        filesz: Int(try reader.u32(at + 16))))
            }
        }
        var interpreter: String?
        if let interp = segments.first(where: { $0.type == 3 }) {
            interpreter = try reader.cString(interp.offset, limit: interp.filesz)
        }
        guard let dynamic = segments.first(where: { $0.type == 2 }) else {
            return ELFDependencies(
                needed: [], runpath: [], interpreter: interpreter, machine: machineName(machine))
        }

        // The dynamic array: (tag, value) pairs until DT_NULL.
        var entries: [(tag: UInt64, value: UInt64)] = []
        let entrySize = is64 ? 16 : 8
        var at = dynamic.offset
        while at + entrySize <= dynamic.offset + dynamic.filesz {
            let tag = try is64 ? reader.u64(at) : UInt64(reader.u32(at))
            let value = try is64 ? reader.u64(at + 8) : UInt64(reader.u32(at + 4))
            if tag == 0 { break }
            entries.append((tag, value))
            at += entrySize
        }
        // DT_STRTAB holds a virtual address: find the file offset through the PT_LOAD covering it.
        guard let strtab = entries.first(where: { $0.tag == 5 })?.value else {
            throw ELFFormatError("the dynamic section has no DT_STRTAB")
        }
        guard
            let load = segments.first(where: {
                $0.type == 1 && strtab >= $0.vaddr && strtab < $0.vaddr + UInt64($0.filesz)
            })
        else {
            throw ELFFormatError("DT_STRTAB 0x\(String(strtab, radix: 16)) lies in no loaded segment")
        }
        let strtabOffset = load.offset + Int(strtab - load.vaddr)
        func string(_ offset: UInt64) throws(ELFFormatError) -> String {
            try reader.cString(strtabOffset + Int(offset), limit: 4096)
        }
        var needed: [String] = []
        var runpath: [String] = []
        for entry in entries {
            switch entry.tag {
            case 1: needed.append(try string(entry.value))
            case 15, 29: runpath += try string(entry.value).split(separator: ":").map(String.init)
            default: break
            }
        }
        return ELFDependencies(
            needed: needed, runpath: runpath, interpreter: interpreter, machine: machineName(machine))
    }

    static func machineName(_ machine: UInt16) -> String {
        switch machine {
        case 3: "i386"
        case 40: "arm"
        case 62: "x86_64"
        case 183: "aarch64"
        case 243: "riscv64"
        default: "machine \(machine)"
        }
    }
}

/// An ELF file that cannot be read: what is wrong with it.
public struct ELFFormatError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = "malformed ELF: \(description)" }
}

/// Bounds-checked little-endian reads.
private struct ELFReader {
    let bytes: [UInt8]
    let is64: Bool

    func check(_ offset: Int, _ count: Int) throws(ELFFormatError) {
        guard offset >= 0, count >= 0, offset <= bytes.count - count else {
            throw ELFFormatError(
                "a field at offset \(offset) lies past the end of the file (\(bytes.count) bytes)")
        }
    }

    func u16(_ offset: Int) throws(ELFFormatError) -> UInt16 {
        try check(offset, 2)
        return UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    func u32(_ offset: Int) throws(ELFFormatError) -> UInt32 {
        try check(offset, 4)
        return (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
    }

    func u64(_ offset: Int) throws(ELFFormatError) -> UInt64 {
        try check(offset, 8)
        return (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) }
    }

    func cString(_ offset: Int, limit: Int) throws(ELFFormatError) -> String {
        try check(offset, 1)
        var end = offset
        while end < bytes.count, end < offset + limit, bytes[end] != 0 { end += 1 }
        return String(decoding: bytes[offset..<end], as: UTF8.self)
    }
}
