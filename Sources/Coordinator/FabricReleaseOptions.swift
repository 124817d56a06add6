import ArgumentParser
import Foundation

/// `--fabric-release DIR|TARBALL`, else `$BOK_FABRIC_RELEASE`: the Fabric release whose binaries the lab runs.
struct FabricReleaseOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "A Fabric release: a directory in the official layout (bin/, config/), or the hyperledger-fabric-linux-amd64-*.tar.gz "
            + "you downloaded (default: $BOK_FABRIC_RELEASE, else the cache scripts/install-deps.sh fills).", valueName: "DIR|TARBALL"))
    var fabricRelease: String?

    func resolve() throws -> String {
        let candidate = fabricRelease ?? ProcessInfo.processInfo.environment["BOK_FABRIC_RELEASE"] ?? "/var/cache/bok/fabric/release"
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: candidate + "/bin/peer", isDirectory: &isDir),
              FileManager.default.fileExists(atPath: candidate + "/config/core.yaml")
        else {
            throw ValidationError("no Fabric release at \(candidate) (expected bin/peer and config/core.yaml); point --fabric-release "
                + "or BOK_FABRIC_RELEASE at the hyperledger-fabric-linux-amd64-2.5.x release you downloaded")
        }
        return candidate
    }
}
