import Foundation
import Lab

/// One lab for a whole test class: `up()` in `class func setUp()` (after removing whatever an
/// earlier, crashed run left on the same subnet), `down()` in `class func tearDown()`. Tests ask
/// `unavailable` first and skip with that reason (not root, sshd missing, `lab up` failed).
public final class SharedLab: @unchecked Sendable {
    // @unchecked: written only in XCTest's class setUp/tearDown, which run before and after every test of the class.
    public let spec: LabSpec
    public private(set) var state: LabState?
    public private(set) var unavailable: String? = "the lab was not brought up"
    private let required: [String]

    /// `required`: executables the lab needs besides the usual ones (e.g. /usr/sbin/sshd).
    public init(_ spec: LabSpec, requiring required: [String] = []) {
        self.spec = spec
        self.required = required
    }

    public func up() {
        guard geteuid() == 0 else {
            unavailable = "needs root: creates namespaces and runs dockerd"
            return
        }
        if let missing = required.first(where: { !FileManager.default.isExecutableFile(atPath: $0) }) {
            unavailable = "\(missing) is not installed"
            return
        }
        _ = LabEnvironment.down(root: spec.root, subnet: spec.subnet)
        do {
            state = try LabEnvironment.up(spec)
            unavailable = nil
        } catch {
            unavailable = "lab could not be created: \(error)"
        }
    }

    /// Removes the lab (every process by PID, namespace, link and file); returns what was done.
    @discardableResult
    public func down() -> [String] {
        let report = LabEnvironment.down(root: spec.root, subnet: spec.subnet)
        state = nil
        unavailable = "the lab was taken down"
        return report
    }
}
