import BoKSystem
import CLibSSH2
import Foundation
import Logging

/// An OpenSSH known_hosts file loaded into a libssh2 known-hosts collection
/// (`LIBSSH2_KNOWNHOSTS`); owns the collection and frees it in `deinit`.
///
/// Lines are fed to libssh2 one by one instead of through `libssh2_knownhost_readfile`, which stops at
/// the first line it cannot parse (e.g. a key type libssh2 1.10 does not know, such as
/// `sk-ssh-ed25519@openssh.com`) and would silently ignore the rest. Such lines are skipped. The file
/// is never rewritten: a new key is appended as one line, so comments, hashed names, markers and
/// unknown key types stay byte for byte.
final class KnownHostsFile {
    enum CheckResult: Equatable {
        case match
        case mismatch
        case notFound
        case failure(String)
    }

    let path: String
    private let handle: OpaquePointer
    private let session: LibSSH2Session
    /// Base64 key blobs from `@revoked` lines.
    private(set) var revokedKeys: Set<String> = []
    /// 1-based numbers of lines libssh2 could not parse (skipped).
    private(set) var skippedLines: [Int] = []

    init(path: String, session: LibSSH2Session, logger: Logger) throws(SSHError) {
        guard let handle = libssh2_knownhost_init(session.handle) else {
            throw SSHError(session.target, .hostKey, .localFile, "libssh2 could not create a known-hosts collection")
        }
        self.path = path
        self.handle = handle
        self.session = session

        guard FileManager.default.fileExists(atPath: path) else { return }
        guard let contents = FileManager.default.contents(atPath: path) else {
            throw SSHError(
                session.target, .hostKey, .localFile, "cannot read known_hosts file \(path)",
                hint: "Check its permissions, or point --known-hosts at another file.")
        }
        let text = String(decoding: contents, as: UTF8.self)
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line.removeLast() }
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            if trimmed.hasPrefix("@") {
                // Markers are not understood by libssh2. Keep `@revoked` (a revoked key must never be
                // accepted); `@cert-authority` lines are for host certificates, which we do not use.
                let fields = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" })
                if fields.first == "@revoked", fields.count >= 4 { revokedKeys.insert(String(fields[3])) }
                continue
            }
            let argument = Self.readlineArgument(trimmed)
            let rc = argument.bytes.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) {
                    libssh2_knownhost_readline(handle, $0.baseAddress, argument.length, LIBSSH2_KNOWNHOST_FILE_OPENSSH)
                }
            }
            if rc != 0 {
                skippedLines.append(index + 1)
                logger.debug(
                    "known_hosts line skipped (libssh2 cannot parse it)", metadata: ["file": "\(path)", "line": "\(index + 1)"])
            }
        }
    }

    deinit { libssh2_knownhost_free(handle) }

    /// One known_hosts line as `libssh2_knownhost_readline` must get it: as fgets would give it,
    /// ending in "\n" (counted in `length`) and a NUL. libssh2 1.10 looks at the byte after the
    /// last counted one to see whether it is a newline; a line without one let a stray 0x0a past
    /// the buffer drop the key's last character, and a correct entry intermittently "did not match".
    static func readlineArgument(_ line: Substring) -> (bytes: [UInt8], length: Int) {
        let bytes = Array(line.utf8) + [0x0A, 0]
        return (bytes, bytes.count - 1)
    }

    /// The key types recorded for `name` (a known_hosts name: `host` or `[host]:port`), hashed entries
    /// included. libssh2 has no query for this; checking a key that cannot match reveals it: a
    /// "mismatch" means the host is listed with that key type.
    func recordedKeyTypes(for name: String) -> [KnownHostKeyType] {
        KnownHostKeyType.allCases.filter { type in
            let rc = libssh2_knownhost_checkp(
                handle, name, -1, "-", 1,
                LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_BASE64 | type.typemask, nil)
            return rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH
        }
    }

    /// Checks `key` for `name` exactly (`port -1`: libssh2 would otherwise also accept a plain `host`
    /// entry for a non-standard port, which OpenSSH does not).
    func check(name: String, key: PresentedHostKey, type: KnownHostKeyType) -> CheckResult {
        let rc = key.blob.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) {
                libssh2_knownhost_checkp(
                    handle, name, -1, $0.baseAddress, $0.count,
                    LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | type.typemask, nil)
            }
        }
        switch rc {
        case LIBSSH2_KNOWNHOST_CHECK_MATCH: return .match
        case LIBSSH2_KNOWNHOST_CHECK_MISMATCH: return .mismatch
        case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND: return .notFound
        default: return .failure(session.lastError().message)
        }
    }

    /// Appends `name algorithm base64` to the file (created with mode 0600, its directory with 0700
    /// when missing), after a newline if the file does not end with one. Nothing else is touched.
    static func append(name: String, key: PresentedHostKey, to path: String) throws(KnownHostsWriteError) {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty && !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw KnownHostsWriteError(reason: "cannot create directory \(directory): \(error.localizedDescription)")
            }
        }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw KnownHostsWriteError(reason: "cannot open \(path): \(POSIXErrorText.describe(errno))") }
        defer { close(fd) }
        var line = "\(name) \(key.algorithm) \(key.base64)\n"
        if needsLeadingNewline(path) { line = "\n" + line }
        let code = writeAll(fd, Array(line.utf8))
        guard code == 0 else { throw KnownHostsWriteError(reason: "cannot write \(path): \(POSIXErrorText.describe(code))") }
        guard fsync(fd) == 0 else {
            throw KnownHostsWriteError(reason: "cannot write \(path): \(POSIXErrorText.describe(errno))")
        }
    }

    private static func needsLeadingNewline(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        guard let size = try? handle.seekToEnd(), size > 0 else { return false }
        try? handle.seek(toOffset: size - 1)
        let last = try? handle.read(upToCount: 1)
        return last != Data([0x0A])
    }
}

struct KnownHostsWriteError: Error {
    var reason: String
}
