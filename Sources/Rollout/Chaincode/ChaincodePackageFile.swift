import BoKSystem
import Crypto
import DockerEngine
import Foundation
import KubeClient

import struct KubeManifests.ChaincodePackageInfo

/// Why a chaincode package could not be read or made.
public struct ChaincodeError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A chaincode package file (`peer lifecycle chaincode package` output): its bytes, label, type and package ID.
public struct ChaincodePackageFile: Sendable {
    public let path: String
    public let bytes: Data
    public let info: ChaincodePackageInfo
    /// `metadata.json`'s `type`: `golang`, `node`, `java`, `ccaas`, `external`.
    public let type: String

    /// Fabric's rule for labels (`persistence.LabelRegexp`).
    public static func isValidLabel(_ label: String) -> Bool {
        guard let first = label.unicodeScalars.first, first.isASCIIAlphanumeric else { return false }
        return label.unicodeScalars.allSatisfy { $0.isASCIIAlphanumeric || "_.+-".unicodeScalars.contains($0) }
    }

    /// Reads the package, hashes it and reads its `metadata.json` (with `tar`, which every system has).
    public static func load(path: String) throws(ChaincodeError) -> ChaincodePackageFile {
        guard let bytes = FileManager.default.contents(atPath: path) else {
            throw ChaincodeError(
                "cannot read the chaincode package \(path): no such file or not readable; give the file `peer lifecycle chaincode package` wrote (--package) or package a directory with --path"
            )
        }
        guard !bytes.isEmpty else { throw ChaincodeError("the chaincode package \(path) is empty; package the chaincode again") }
        let listing = CommandRunner.run(["tar", "-xzOf", path, "metadata.json"], timeout: 60)
        guard listing.succeeded else {
            throw ChaincodeError(
                "\(path) is not a chaincode package: `tar -xzOf \(path) metadata.json` failed (\(listing.tail(3).joined(separator: " / "))); make it with `peer lifecycle chaincode package` or pass --path to package a directory"
            )
        }
        let metadata: JSON
        do {
            metadata = try JSON.parse(listing.stdout)
        } catch {
            throw ChaincodeError("\(path): metadata.json is not JSON (\(error)); package the chaincode again")
        }
        guard let label = metadata["label"]?.stringValue, isValidLabel(label) else {
            throw ChaincodeError(
                "\(path): metadata.json has no valid label (got \(metadata["label"].map { "\($0)" } ?? "none"); Fabric wants letters, digits and _.+- starting with a letter or digit); package it again with --label"
            )
        }
        let type = metadata["type"]?.stringValue ?? ""
        let digest = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
        return ChaincodePackageFile(
            path: path, bytes: bytes, info: ChaincodePackageInfo(label: label, sha256: digest, size: bytes.count),
            type: type)
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIIAlphanumeric: Bool {
        ("a"..."z").contains(self) || ("A"..."Z").contains(self) || ("0"..."9").contains(self)
    }
}

/// Where the Fabric release's `peer` is: `--fabric-release DIR|TARBALL` or `BOK_FABRIC_RELEASE`, a directory with
/// `bin/peer` and `config/core.yaml` or a release tarball (unpacked into a temporary directory).
///
/// Local stand-in for the lab's `FabricRelease` (Sources/Lab): replace with it once merged.
public struct FabricReleaseLocation: Sendable {
    public let directory: String
    /// A temporary directory this value unpacked a tarball into; removed by `cleanUp()`.
    let temporary: String?

    public var peer: String { "\(directory)/bin/peer" }
    public var configDirectory: String { "\(directory)/config" }

    public static let environmentVariable = "BOK_FABRIC_RELEASE"

    public static func locate(_ given: String?, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(ChaincodeError) -> FabricReleaseLocation
    {
        guard let path = given ?? environment[environmentVariable], !path.isEmpty else {
            throw ChaincodeError(
                "packaging needs a Fabric release for its `peer` binary: pass --fabric-release DIR|TARBALL or set \(environmentVariable) (the hyperledger-fabric-linux-amd64-2.5.x.tar.gz Hyperledger publishes, or where it is unpacked)"
            )
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ChaincodeError(
                "Fabric release \(path) does not exist; give the release tarball or the directory it was unpacked into")
        }
        var location = FabricReleaseLocation(directory: path, temporary: nil)
        if !isDirectory.boolValue {
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("bok-fabric-\(UUID().uuidString)").path
            do {
                try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            } catch {
                throw ChaincodeError("cannot unpack the Fabric release \(path): cannot create \(scratch): \(error)")
            }
            let unpack = CommandRunner.run(["tar", "-xzf", path, "-C", scratch, "bin/peer", "config/core.yaml"], timeout: 300)
            guard unpack.succeeded else {
                try? FileManager.default.removeItem(atPath: scratch)
                throw ChaincodeError(
                    "cannot unpack bin/peer and config/core.yaml from the Fabric release \(path): \(unpack.tail(3).joined(separator: " / ")); is it a hyperledger-fabric-linux-<arch>-<version>.tar.gz?"
                )
            }
            location = FabricReleaseLocation(directory: scratch, temporary: scratch)
        }
        guard FileManager.default.isExecutableFile(atPath: location.peer),
            FileManager.default.fileExists(atPath: "\(location.configDirectory)/core.yaml")
        else {
            location.cleanUp()
            throw ChaincodeError(
                "Fabric release \(path) has no executable bin/peer and config/core.yaml; give a release in Hyperledger's layout (bin/, config/)"
            )
        }
        return location
    }

    public func cleanUp() {
        if let temporary { try? FileManager.default.removeItem(atPath: temporary) }
    }
}

/// `peer lifecycle chaincode package` with a release's `peer`.
public enum ChaincodePackager {
    public static let languages = ["golang", "node", "java"]

    /// Packages the source at `sourcePath` into `output`.
    public static func package(
        sourcePath: String, language: String, label: String, output: String,
        release: FabricReleaseLocation
    ) throws(ChaincodeError) {
        guard isValidLabelText(label) else {
            throw ChaincodeError(
                "--label '\(label)' is not a valid package label: letters, digits and _.+- starting with a letter or digit")
        }
        var environment = ProcessInfo.processInfo.environment
        environment["FABRIC_CFG_PATH"] = release.configDirectory
        if language == "golang" {
            // The peer asks `go list` for the module's packages: Go must be on PATH.
            let path = environment["PATH"] ?? "/usr/bin:/bin"
            let searched = path.split(separator: ":").map(String.init) + ["/usr/lib/go/bin", "/usr/local/go/bin"]
            guard let goDirectory = searched.first(where: { FileManager.default.isExecutableFile(atPath: "\($0)/go") }) else {
                throw ChaincodeError(
                    "packaging Go chaincode runs `go list`, and no `go` is on PATH: install Go (Debian: apt-get install golang-go) or package the chaincode where Go is and pass the file with --package"
                )
            }
            environment["PATH"] = "\(goDirectory):\(path)"
        }
        let result = CommandRunner.run(
            [
                release.peer, "lifecycle", "chaincode", "package", output, "--path", sourcePath,
                "--lang", language, "--label", label,
            ], timeout: 600, environment: environment)
        guard result.succeeded else {
            throw ChaincodeError(
                "`peer lifecycle chaincode package` of \(sourcePath) failed\(result.timedOut ? " (timed out after 600 s)" : " with status \(result.exitCode)"): \(result.tail(8).joined(separator: "\n  ")); fix the chaincode source or its --lang, then run again"
            )
        }
    }

    static func isValidLabelText(_ label: String) -> Bool { ChaincodePackageFile.isValidLabel(label) }
}
