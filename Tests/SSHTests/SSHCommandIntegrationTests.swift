import Foundation
import SSHClient
import XCTest

final class SSHCommandIntegrationTests: SSHTestCase {
    func testRunReturnsExitStatusStdoutAndStderr() throws {
        let (session, _) = try connectedSession()
        let result = try session.run("echo out; echo err >&2; exit 3")
        XCTAssertEqual(result.exitStatus, 3)
        XCTAssertNil(result.exitSignal)
        XCTAssertEqual(result.stdoutText, "out\n")
        XCTAssertEqual(result.stderrText, "err\n")
        XCTAssertFalse(result.succeeded)
    }

    func testRunsAsTheTargetUser() throws {
        let (session, _) = try connectedSession()
        XCTAssertEqual(try session.run("id -un").stdoutText, "root\n")
        XCTAssertEqual(session.target.user, "root")
    }

    func testStdinReachesTheCommandByteForByte() throws {
        let (session, _) = try connectedSession()
        // Larger than libssh2's channel window (2 MiB), with every byte value.
        let input = Data((0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) })
        let result = try session.run("cat", stdin: input)
        XCTAssertEqual(result.exitStatus, 0)
        XCTAssertEqual(result.stdout.count, input.count)
        XCTAssertTrue(result.stdout == input)
    }

    func testLargeOutputOnBothStreamsDoesNotDeadlock() throws {
        let (session, _) = try connectedSession()
        // 4 MiB on stderr before a byte on stdout: a blocking read of stdout alone would stall once
        // stderr fills the channel window.
        let result = try session.run("head -c 4194304 /dev/zero >&2; head -c 1048576 /dev/zero")
        XCTAssertEqual(result.exitStatus, 0)
        XCTAssertEqual(result.stderr.count, 4 << 20)
        XCTAssertEqual(result.stdout.count, 1 << 20)
    }

    func testKilledCommandReportsTheSignal() throws {
        let (session, _) = try connectedSession()
        let result = try session.run("kill -TERM $$")
        XCTAssertEqual(result.exitSignal, "TERM")
        XCTAssertFalse(result.succeeded)
    }

    func testRunCheckedQuotesStderrOfAFailedCommand() throws {
        let (session, _) = try connectedSession()
        let error = expectSSHError { try session.runChecked("echo 'no such unit' >&2; exit 5") }
        XCTAssertEqual(error?.step, .exec)
        XCTAssertEqual(error?.kind, .commandFailed)
        XCTAssertTrue(error?.reason.contains("exited with status 5") ?? false, "\(String(describing: error))")
        XCTAssertTrue(error?.reason.contains("no such unit") ?? false)
    }

    func testSeveralCommandsShareOneSession() throws {
        let (session, _) = try connectedSession()
        for index in 0..<5 {
            XCTAssertEqual(try session.run("echo \(index)").stdoutText, "\(index)\n")
        }
    }

    func testSilentCommandHitsTheOperationTimeout() throws {
        let (session, _) = try connectedSession(operationTimeout: 10)
        let pidFile = directory.appendingPathComponent("sleeper.pid").path
        let started = Date()
        let error = expectSSHError { try session.run("echo $$ > \(pidFile); exec sleep 30", timeout: 1) }
        let elapsed = Date().timeIntervalSince(started)
        // The remote sleep outlives the closed channel: end it by its PID.
        if let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        {
            kill(pid, SIGKILL)
        }
        XCTAssertEqual(error?.kind, .timedOut)
        XCTAssertEqual(error?.step, .exec)
        XCTAssertEqual(error?.host, "127.0.0.1")
        XCTAssertGreaterThanOrEqual(elapsed, 1)
        XCTAssertLessThan(elapsed, 4)
        // The session is still usable for the next command.
        XCTAssertEqual(try session.run("echo still here").stdoutText, "still here\n")
    }

    func testEmptyCommandIsRefusedLocally() throws {
        let (session, _) = try connectedSession()
        XCTAssertEqual(expectSSHError { try session.run("") }?.kind, .invalidArgument)
    }
}
