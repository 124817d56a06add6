import XCTest
final class PlaceholderFabricTests: XCTestCase { func testNothing() {} }
