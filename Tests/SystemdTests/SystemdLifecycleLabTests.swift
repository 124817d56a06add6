import BoKSystem
import BoKTesting
import DockerEngine
import Foundation
import Lab
import XCTest

/// `coordinator lab up --systemd` and `lab down` through the CLI, on a lab of its own: down leaves
/// no machine, process, mount, cgroup, namespace, link or file behind.
final class SystemdLifecycleLabTests: XCTestCase {
    let root = "/tmp/bok-test-lab-211"
    let subnet = 211

    override func setUp() async throws {
        guard geteuid() == 0 else {
            throw XCTSkip("needs root: creates namespaces, mounts and machines")
        }
        for tool in ["/usr/bin/systemd-nspawn", "/usr/sbin/debootstrap"]
        where !FileManager.default.isExecutableFile(atPath: tool) {
            throw XCTSkip("\(tool) is not installed (scripts/install-deps.sh)")
        }
        _ = LabEnvironment.down(root: root, subnet: subnet)
    }

    override func tearDown() async throws {
        _ = LabEnvironment.down(root: root, subnet: subnet)
    }

    func testLabUpSystemdThenDownRemovesEverything() throws {
        let started = Date()
        let up = CommandRunner.run(
            [
                BuildProducts.coordinator, "lab", "up", "--systemd", "--nodes", "1", "--subnet",
                "\(subnet)", "--dir", root,
            ], timeout: 3600)
        let seconds = Date().timeIntervalSince(started)
        XCTAssertEqual(up.exitCode, 0, up.stdout + up.stderr)
        print(String(format: "lab up --systemd (1 node): %.1f s", seconds))
        XCTAssertTrue(
            up.stdout.contains("coordinator agents install --inventory \(root)/inventory.yaml"), up.stdout
        )
        let state = try XCTUnwrap(LabState.load(root: root))
        let node = try XCTUnwrap(state.nodes.first)
        let machine = try XCTUnwrap(node.machine)
        let leader = try XCTUnwrap(machine.leaderPID)
        let nspawn = try XCTUnwrap(machine.nspawnPID)
        let supervisor = try XCTUnwrap(machine.supervisorPID)
        XCTAssertEqual(DockerdProcess.command(pid: leader), "systemd")
        XCTAssertTrue(FileManager.default.fileExists(atPath: state.ssh!.knownHosts))
        let inventory = try String(contentsOfFile: state.inventory, encoding: .utf8)
        XCTAssertTrue(inventory.contains("root@\(node.address):22"), inventory)
        let cgroups = try String(contentsOfFile: machine.dir + "/cgroups", encoding: .utf8).split(
            separator: "\n"
        ).map(String.init)
        XCTAssertFalse(cgroups.isEmpty)

        let down = CommandRunner.run(
            [BuildProducts.coordinator, "lab", "down", "--dir", root], timeout: 300)
        XCTAssertEqual(down.exitCode, 0, down.stdout + down.stderr)
        XCTAssertTrue(down.stdout.contains("powered off machine bok\(subnet)-node1"), down.stdout)
        for (pid, what) in [
            (leader, "the machine's systemd"), (nspawn, "systemd-nspawn"), (supervisor, "the supervisor"),
        ] {
            // Gone, or a zombie its new parent (PID 1 of this host) has not reaped yet.
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            XCTAssertTrue(stat.isEmpty || stat.contains(") Z "), "\(what) (pid \(pid)) still runs: \(stat)")
        }
        let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        XCTAssertFalse(mounts.contains(root), "a mount under \(root) is left")
        for cgroup in cgroups {
            XCTAssertFalse(FileManager.default.fileExists(atPath: cgroup), "cgroup \(cgroup) is left")
        }
        XCTAssertFalse(
            CommandRunner.run(["ip", "netns", "list"]).stdout.contains("bok\(subnet)-"),
            "a network namespace is left")
        XCTAssertFalse(
            CommandRunner.run(["ip", "link", "show", "bok\(subnet)"]).succeeded, "the bridge is left")
        XCTAssertFalse(FileManager.default.fileExists(atPath: root), "\(root) is left")
    }
}
