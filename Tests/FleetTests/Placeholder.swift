import XCTest
final class PlaceholderFleetTests: XCTestCase { func testNothing() {} }
