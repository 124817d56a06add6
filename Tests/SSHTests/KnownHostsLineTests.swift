import XCTest

@testable import SSHClient

/// libssh2 1.10's `libssh2_knownhost_readline` peeks at the byte after the line it is given unless
/// the line ends in a counted newline: what BoK hands it must end in "\n" (counted) and a NUL.
final class KnownHostsLineTests: XCTestCase {
    func testLinesGoToLibssh2NewlineTerminatedWithinTheCountedLength() {
        let line: Substring = "[127.0.0.1]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBok"
        let argument = KnownHostsFile.readlineArgument(line)
        XCTAssertEqual(argument.length, line.utf8.count + 1, "the newline is counted")
        XCTAssertEqual(argument.bytes[argument.length - 1], 0x0A, "the last counted byte is the newline")
        XCTAssertEqual(argument.bytes[argument.length], 0, "a NUL follows, so nothing past the buffer is read")
        XCTAssertEqual(Array(argument.bytes.prefix(line.utf8.count)), Array(line.utf8), "the line itself is unchanged")
    }
}
