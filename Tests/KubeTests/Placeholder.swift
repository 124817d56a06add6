import XCTest
final class PlaceholderKubeTests: XCTestCase { func testNothing() {} }
