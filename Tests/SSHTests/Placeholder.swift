import XCTest
final class PlaceholderSSHTests: XCTestCase { func testNothing() {} }
