import FabricTopology
import Foundation
import XCTest
import Yams

@testable import KubeManifests

/// `render --crypto`: Secrets (org CA keys among them) are files only their owner reads, in directories only
/// their owner enters, never written through a planted link; the explorer's UI requires a login.
final class RenderSecretsTests: XCTestCase {
    private func render(into dir: String) throws -> [KubeObject] {
        let renderer = ManifestRenderer(
            topology: try TestSupport.exampleTopology(), crypto: StubCrypto(),
            passwords: { namespace, purpose in "pw-\(namespace)-\(purpose)" })
        _ = try renderer.write(to: dir)
        return try renderer.render()
    }

    private func mode(_ path: String) -> mode_t {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_mode & 0o7777 : 0
    }

    func testSecretsAre0600In0700DirectoriesWhateverTheUmask() throws {
        let dir = try TestSupport.temporaryDirectory("bok-render-secrets").path + "/out"
        let old = umask(0)
        defer { umask(old) }
        let objects = try render(into: dir)
        let secrets = objects.filter { $0.kind == "Secret" }
        XCTAssertFalse(secrets.isEmpty)
        for secret in secrets {
            let path = "\(dir)/\(secret.relativePath)"
            XCTAssertEqual(mode(path), 0o600, path)
            XCTAssertEqual(mode((path as NSString).deletingLastPathComponent), 0o700, path)
        }
        let other = try XCTUnwrap(objects.first { $0.kind == "Deployment" })
        XCTAssertEqual(mode("\(dir)/\(other.relativePath)"), 0o644)
    }

    func testAPlantedLinkAtASecretsPathIsNotFollowed() throws {
        let base = try TestSupport.temporaryDirectory("bok-render-link").path
        let dir = base + "/out"
        let objects = try render(into: dir)
        let secret = try XCTUnwrap(objects.first { $0.kind == "Secret" })
        let path = "\(dir)/\(secret.relativePath)"
        let victim = base + "/victim"
        try "victim\n".write(toFile: victim, atomically: false, encoding: .utf8)
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: victim)
        XCTAssertThrowsError(try render(into: dir))
        XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "victim\n")
    }

    func testTheExplorerRequiresALoginKeptInASecret() throws {
        let objects = try ManifestRenderer(
            topology: try TestSupport.exampleTopology(), crypto: StubCrypto(),
            passwords: { namespace, purpose in "pw-\(namespace)-\(purpose)" }
        ).render()
        func data(_ name: String) throws -> [String: String] {
            let object = try XCTUnwrap(objects.first { $0.kind == "Secret" && $0.name == name })
            let yaml = try XCTUnwrap(try Yams.load(yaml: object.yaml) as? [String: Any])
            let encoded = try XCTUnwrap(yaml["data"] as? [String: String])
            return encoded.mapValues { String(decoding: Data(base64Encoded: $0) ?? Data(), as: UTF8.self) }
        }
        let profile = try XCTUnwrap(try data(ManifestRenderer.Names.explorerConfig)["connection-profile.json"])
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(profile.utf8)) as? [String: Any])
        let client = try XCTUnwrap(json["client"] as? [String: Any])
        XCTAssertEqual(client["enableAuthentication"] as? Bool, true, "the explorer signs with the org admin: its UI needs a login")
        let login = try XCTUnwrap(client["adminCredential"] as? [String: Any])
        let credentials = try data(ManifestRenderer.Names.explorerCredentials)
        XCTAssertEqual(credentials["admin-user"], login["id"] as? String)
        XCTAssertEqual(credentials["admin-password"], login["password"] as? String)
        XCTAssertFalse((credentials["admin-password"] ?? "").isEmpty)
    }
}
