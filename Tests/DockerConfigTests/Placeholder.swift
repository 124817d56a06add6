import XCTest
final class PlaceholderDockerConfigTests: XCTestCase { func testNothing() {} }
