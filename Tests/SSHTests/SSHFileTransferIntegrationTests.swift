import Foundation
import SSHClient
import XCTest

final class SSHFileTransferIntegrationTests: SSHTestCase {
    private func mode(_ path: String) -> mode_t {
        var info = stat()
        XCTAssertEqual(stat(path, &info), 0, path)
        return info.st_mode & 0o7777
    }

    private func owner(_ path: String) -> (uid_t, gid_t) {
        var info = stat()
        XCTAssertEqual(stat(path, &info), 0, path)
        return (info.st_uid, info.st_gid)
    }

    func testUploadWritesModeAndOwnerThenDownloadIsByteIdentical() throws {
        let (session, _) = try connectedSession()
        let remote = directory.appendingPathComponent("bok-agent").path
        let payload = Data((0..<(5 << 20) + 123).map { UInt8(truncatingIfNeeded: $0 &* 31 ^ $0 >> 9) })

        try session.upload(payload, to: remote, mode: 0o751, owner: "root")
        XCTAssertEqual(mode(remote), 0o751, "exact mode despite the server's umask")
        XCTAssertEqual(owner(remote).0, 0)
        XCTAssertTrue(FileManager.default.contents(atPath: remote) == payload)
        XCTAssertTrue(try session.download(remote) == payload)
    }

    func testUploadChangesOwnerAndGroup() throws {
        let (session, _) = try connectedSession()
        let remote = directory.appendingPathComponent("owned").path
        try session.upload(Data("x".utf8), to: remote, mode: 0o640, owner: "nobody:nogroup")
        let nobody = try ToolRunner.run("/usr/bin/id", ["-u", "nobody"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(String(owner(remote).0), nobody)
        XCTAssertEqual(mode(remote), 0o640)
    }

    func testUploadReplacesAnExistingFileAndLeavesNoTemporaryFiles() throws {
        let (session, _) = try connectedSession()
        let folder = directory.appendingPathComponent("etc-bok")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let remote = folder.appendingPathComponent("agent.yaml").path
        try "old: true\n".write(toFile: remote, atomically: true, encoding: .utf8)

        try session.upload(Data("new: true\n".utf8), to: remote, mode: 0o600)
        XCTAssertEqual(try String(contentsOfFile: remote, encoding: .utf8), "new: true\n")
        XCTAssertEqual(mode(remote), 0o600)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["agent.yaml"])
    }

    func testEmptyUploadCreatesAnEmptyFile() throws {
        let (session, _) = try connectedSession()
        let remote = directory.appendingPathComponent("empty").path
        try session.upload(Data(), to: remote, mode: 0o644)
        XCTAssertEqual(FileManager.default.contents(atPath: remote), Data())
        XCTAssertEqual(try session.download(remote), Data())
    }

    func testUploadIntoAMissingDirectoryNamesThePath() throws {
        let (session, _) = try connectedSession()
        let remote = directory.appendingPathComponent("no/such/dir/file").path
        let error = expectSSHError { try session.upload(Data("x".utf8), to: remote, mode: 0o644) }
        XCTAssertEqual(error?.step, .upload)
        XCTAssertEqual(error?.kind, .remoteFileNotFound)
        XCTAssertTrue(
            error?.reason.contains(directory.appendingPathComponent("no/such/dir/").path) ?? false, "\(String(describing: error))"
        )
    }

    func testUploadOntoADirectoryIsRefusedAndCleansUp() throws {
        let (session, _) = try connectedSession()
        let folder = directory.appendingPathComponent("target-is-dir")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let error = expectSSHError { try session.upload(Data("x".utf8), to: folder.path, mode: 0o644) }
        XCTAssertEqual(error?.step, .upload)
        XCTAssertTrue(error?.reason.contains("is a directory") ?? false, "\(String(describing: error))")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), [])
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains("bok-upload") }
        XCTAssertEqual(leftovers, [])
    }

    func testUploadWithUnknownOwnerFailsAndLeavesNothingBehind() throws {
        let (session, _) = try connectedSession()
        let folder = directory.appendingPathComponent("chown")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let error = expectSSHError {
            try session.upload(
                Data("x".utf8), to: folder.appendingPathComponent("f").path, mode: 0o644, owner: "no-such-user-bok")
        }
        XCTAssertEqual(error?.step, .upload)
        XCTAssertTrue(error?.reason.contains("no-such-user-bok") ?? false, "\(String(describing: error))")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), [])
    }

    func testPathsWithSpacesAndQuotesSurviveTheShell() throws {
        let (session, _) = try connectedSession()
        let remote = directory.appendingPathComponent("it's a \"file\" $(touch pwned)").path
        try session.upload(Data("q".utf8), to: remote, mode: 0o644, owner: "root")
        XCTAssertEqual(FileManager.default.contents(atPath: remote), Data("q".utf8))
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("pwned").path))
    }

    func testDownloadOfAMissingFileNamesThePath() throws {
        let (session, _) = try connectedSession()
        let remote = directory.appendingPathComponent("absent.conf").path
        let error = expectSSHError { try session.download(remote) }
        XCTAssertEqual(error?.step, .download)
        XCTAssertEqual(error?.kind, .remoteFileNotFound)
        XCTAssertTrue(error?.reason.contains(remote) ?? false)
    }
}
