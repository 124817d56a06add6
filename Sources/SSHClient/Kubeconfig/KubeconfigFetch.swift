import BoKSystem
import Foundation

/// Copies the kubeconfig from a Kubernetes master over SSH to a local file: the first of
/// `remotePaths` that exists is downloaded, loopback `server:` addresses are pointed at the master
/// (see `KubeconfigServerRewrite`), and the result is written with mode 0600. An existing output file
/// with other content is replaced only with `force` (the old one is kept as `<output>.bak`).
public struct KubeconfigFetch: Sendable {
    /// Where BoK keeps the kubeconfig on a master, then where kubeadm does.
    public static let defaultRemotePaths = ["/var/srv/kubernetes/kubeconfig.json", "/etc/kubernetes/admin.conf"]

    /// Tried in order; the first that exists is used.
    public var remotePaths: [String]
    /// The local file to write (no `~` expansion here).
    public var outputPath: String
    /// Replace an existing output file whose content differs.
    public var force: Bool
    /// The address to put into loopback `server:` URLs; nil means the host SSH connected to. Set it
    /// when the API server is reached under another name or network than SSH.
    public var serverHost: String?

    /// What a fetch did.
    public struct Outcome: Sendable {
        /// The remote file that was copied.
        public var remotePath: String
        /// The local file written (or found up to date).
        public var outputPath: String
        /// Every `server:` URL in the kubeconfig, after the rewrite.
        public var servers: [String]
        /// The `server:` URLs that were pointed at the master.
        public var changes: [KubeconfigServerRewrite.Change]
        /// False when the output file already had exactly this content.
        public var wrote: Bool
        /// Where the previous output file was kept, when one was replaced.
        public var backupPath: String?
    }

    /// - Parameter remotePath: one path to use; nil tries `defaultRemotePaths`.
    public init(remotePath: String? = nil, outputPath: String, force: Bool = false, serverHost: String? = nil) {
        self.remotePaths = remotePath.map { [$0] } ?? Self.defaultRemotePaths
        self.outputPath = outputPath
        self.force = force
        self.serverHost = serverHost
    }

    /// Downloads, rewrites and writes. Blocking, like every `SSHSession` call.
    public func run(over session: SSHSession) throws(SSHError) -> Outcome {
        let target = session.target
        var remoteData: Data?
        var remotePath = ""
        for path in remotePaths {
            do throws(SSHError) {
                remoteData = try session.download(path)
                remotePath = path
                break
            } catch  where error.kind == .remoteFileNotFound && remotePaths.count > 1 {
                continue
            }
        }
        guard let remoteData else {
            throw SSHError(
                target, .download, .remoteFileNotFound,
                "no kubeconfig on the master: tried \(remotePaths.joined(separator: ", "))",
                hint: "Pass its location with --path.")
        }

        let rewrite: KubeconfigServerRewrite
        do throws(KubeconfigError) {
            rewrite = try KubeconfigServerRewrite(kubeconfig: remoteData, masterHost: serverHost ?? target.host)
        } catch {
            throw SSHError(
                target, .kubeconfig, .invalidContent, "\(remotePath) on the master is not a usable kubeconfig: \(error.reason)")
        }

        let existing = FileManager.default.contents(atPath: outputPath)
        if let existing, existing == rewrite.data {
            do throws(LocalFileError) {
                try LocalFile.restrictMode(of: outputPath, to: 0o600)
            } catch {
                throw SSHError(target, .writeOutput, .localFile, error.reason)
            }
            return Outcome(
                remotePath: remotePath, outputPath: outputPath, servers: rewrite.servers, changes: rewrite.changes, wrote: false,
                backupPath: nil)
        }
        var backupPath: String?
        if let existing {
            guard force else {
                throw SSHError(
                    target, .writeOutput, .localFile, "\(outputPath) already exists and differs from the master's kubeconfig",
                    hint:
                        "Pass --force to replace it (the old file is kept as \(outputPath).bak), "
                        + "or write elsewhere with --output "
                        + "and merge with `KUBECONFIG=\(outputPath):NEW kubectl config view --flatten`.")
            }
            backupPath = outputPath + ".bak"
            do throws(LocalFileError) {
                try LocalFile.writeAtomically(existing, to: outputPath + ".bak", mode: 0o600)
            } catch {
                throw SSHError(target, .writeOutput, .localFile, error.reason)
            }
        }
        do throws(LocalFileError) {
            try LocalFile.writeAtomically(rewrite.data, to: outputPath, mode: 0o600)
        } catch {
            throw SSHError(target, .writeOutput, .localFile, error.reason)
        }
        return Outcome(
            remotePath: remotePath, outputPath: outputPath, servers: rewrite.servers, changes: rewrite.changes, wrote: true,
            backupPath: backupPath)
    }
}

/// Crash-safe local file writes.
enum LocalFile {
    /// BoK's secret writer (BoKSystem.SecretFile): temp file created 0600 with O_EXCL|O_NOFOLLOW, fsync, rename,
    /// fsync of the directory; missing directories are created 0700; a symbolic link at `path` is refused.
    static func writeAtomically(_ data: Data, to path: String, mode: mode_t) throws(LocalFileError) {
        do { try SecretFile.write(data, to: path, mode: mode) } catch { throw LocalFileError(reason: error.description) }
    }

    /// Takes group and other permissions away when the file has any more than `mode`.
    static func restrictMode(of path: String, to mode: mode_t) throws(LocalFileError) {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw LocalFileError(reason: "cannot stat \(path): \(POSIXErrorText.describe(errno))")
        }
        if info.st_mode & 0o7777 != mode && chmod(path, mode) != 0 {
            throw LocalFileError(reason: "cannot chmod \(path): \(POSIXErrorText.describe(errno))")
        }
    }
}

struct LocalFileError: Error {
    var reason: String
}
