import XCTest
final class PlaceholderProtocolTests: XCTestCase { func testNothing() {} }
