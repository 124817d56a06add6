import ArgumentParser
import Foundation
import Lab

/// `--fabric-release DIR|TARBALL`, else `$BOK_FABRIC_RELEASE`, else BoK's cache: the Fabric release the lab runs.
struct FabricReleaseOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "A Fabric release: a directory in the official layout (bin/, config/), the hyperledger-fabric-linux-amd64-*.tar.gz "
                + "you downloaded, or a directory holding the fabric and fabric-ca tarballs (default: $BOK_FABRIC_RELEASE, else "
                + "the cache scripts/install-deps.sh fills, $BOK_CACHE_DIR/fabric).", valueName: "DIR|TARBALL"))
    var fabricRelease: String?

    /// The release's root directory (bin/, config/), unpacked into the cache when it is a tarball.
    func resolve() throws -> String {
        do {
            return try Lab.FabricRelease.resolve(explicit: fabricRelease) { print("lab: \($0)") }.root
        } catch {
            throw ValidationError("\(error)")
        }
    }
}
