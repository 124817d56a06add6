import DNSQuery
import Foundation
import Glibc
import XCTest

/// A real dnsmasq on 127.0.0.1 and a random high port, standing in for kube-dns. Started by the
/// test, stopped by its PID.
final class DnsmasqServer {
    let process: Process
    let port: UInt16
    let directory: URL

    static let bigText = String(repeating: "a", count: 250)

    static func start() throws -> DnsmasqServer {
        var lastFailure = "not started"
        for _ in 0..<8 {
            let port = UInt16.random(in: 20_000...60_000)
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bok-dnsmasq-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let pidFile = directory.appendingPathComponent("dnsmasq.pid")
            let log = directory.appendingPathComponent("dnsmasq.log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/dnsmasq")
            process.arguments = [
                "--no-daemon", "--conf-file=/dev/null", "--port=\(port)", "--listen-address=127.0.0.1", "--bind-interfaces",
                "--no-resolv", "--no-hosts", "--pid-file=\(pidFile.path)", "--user=root",
                "--local=/cluster.local/",
                "--address=/peer0.org1-f-1.svc.cluster.local/198.18.0.7",
                "--host-record=orderer0.ordererorg-f-1.svc.cluster.local,198.18.0.9,fd00::9",
                "--cname=alias.org1-f-1.svc.cluster.local,orderer0.ordererorg-f-1.svc.cluster.local",
                "--srv-host=_peer._tcp.org1-f-1.svc.cluster.local,peer0.org1-f-1.svc.cluster.local,7051,0,5",
                "--mx-host=org1-f-1.svc.cluster.local,mail.org1-f-1.svc.cluster.local,10",
                "--txt-record=txt.org1-f-1.svc.cluster.local,v=1,two words",
                "--txt-record=big.test,\(bigText),\(bigText),\(bigText)",
            ]
            let logHandle = try FileHandle(forWritingTo: log)
            process.standardOutput = logHandle
            process.standardError = logHandle
            try process.run()
            let server = DnsmasqServer(process: process, port: port, directory: directory)
            // Ready once it accepts TCP on the port (dnsmasq binds its UDP and TCP sockets
            // together); gone if the port was taken.
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                if !process.isRunning { break }
                if acceptsTCP(port: port) { return server }
                usleep(10_000)
            }
            lastFailure = (try? String(contentsOf: log, encoding: .utf8)) ?? "no log"
            server.stop()
        }
        throw NSError(domain: "dnsmasq", code: 1, userInfo: [NSLocalizedDescriptionKey: "dnsmasq did not start: \(lastFailure)"])
    }

    static func acceptsTCP(port: UInt16) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    private init(process: Process, port: UInt16, directory: URL) {
        self.process = process
        self.port = port
        self.directory = directory
    }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning && Date() < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }
}

final class DNSResolverIntegrationTests: XCTestCase {
    private var server: DnsmasqServer!

    override func setUpWithError() throws {
        server = try DnsmasqServer.start()
    }

    override func tearDown() {
        server?.stop()
        server = nil
        super.tearDown()
    }

    private func ask(_ name: String, _ type: DNSRecordType) throws -> DNSAnswer {
        try DNSResolver.query(name: name, type: type, server: "127.0.0.1", port: server.port, timeout: 2, attempts: 2)
    }

    func testARecordOfAPeerServiceIsAnswered() throws {
        let answer = try ask("peer0.org1-f-1.svc.cluster.local", .A)
        XCTAssertEqual(answer, DNSAnswer(server: "127.0.0.1", rcode: "NOERROR", answers: ["198.18.0.7"], truncatedRetriedOverTCP: false))
    }

    func testUnknownNameInTheClusterDomainIsNXDOMAIN() throws {
        let answer = try ask("nope.org1-f-1.svc.cluster.local", .A)
        XCTAssertEqual(answer.rcode, "NXDOMAIN")
        XCTAssertEqual(answer.answers, [])
    }

    func testNameTheServerWillNotResolveIsREFUSED() throws {
        XCTAssertEqual(try ask("nope.example", .A).rcode, "REFUSED")
    }

    func testTrailingDotAndLetterCaseDoNotMatter() throws {
        XCTAssertEqual(try ask("PEER0.Org1-F-1.svc.cluster.local.", .A).answers, ["198.18.0.7"])
    }

    func testCNAMEChainIsShownWithDecompressedNames() throws {
        let answer = try ask("alias.org1-f-1.svc.cluster.local", .A)
        XCTAssertEqual(answer.answers, ["CNAME orderer0.ordererorg-f-1.svc.cluster.local.", "198.18.0.9"])
    }

    func testAAAASRVPTRMXAndTXTRecordsAreDecoded() throws {
        XCTAssertEqual(try ask("orderer0.ordererorg-f-1.svc.cluster.local", .AAAA).answers, ["fd00::9"])
        XCTAssertEqual(try ask("_peer._tcp.org1-f-1.svc.cluster.local", .SRV).answers, ["SRV 0 5 7051 peer0.org1-f-1.svc.cluster.local."])
        XCTAssertEqual(try ask("9.0.18.198.in-addr.arpa", .PTR).answers, ["PTR orderer0.ordererorg-f-1.svc.cluster.local."])
        XCTAssertEqual(try ask("org1-f-1.svc.cluster.local", .MX).answers, ["MX 10 mail.org1-f-1.svc.cluster.local."])
        XCTAssertEqual(try ask("txt.org1-f-1.svc.cluster.local", .TXT).answers, ["TXT \"v=1\" \"two words\""])
    }

    func testTruncatedUDPAnswerIsRetriedOverTCP() throws {
        let answer = try ask("big.test", .TXT)
        XCTAssertTrue(answer.truncatedRetriedOverTCP)
        XCTAssertEqual(answer.rcode, "NOERROR")
        let text = DnsmasqServer.bigText
        XCTAssertEqual(answer.answers, ["TXT \"\(text)\" \"\(text)\" \"\(text)\""])
    }
}

/// A UDP socket on loopback that the test controls: it can stay silent, or answer with crafted
/// datagrams.
final class FakeDNSServer: @unchecked Sendable {
    let descriptor: Int32
    let port: UInt16
    let host: String
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)

    init(ipv6: Bool = false) throws {
        let descriptor = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        host = ipv6 ? "::1" : "127.0.0.1"
        var boundPort: UInt16 = 0
        if ipv6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_addr = in6addr_loopback
            var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            let result = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                    bind(descriptor, pointer, length) == 0 ? getsockname(descriptor, pointer, &length) : -1
                }
            }
            guard result == 0 else {
                close(descriptor)
                throw POSIXError(.init(rawValue: errno) ?? .EIO)
            }
            boundPort = UInt16(bigEndian: address.sin6_port)
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let result = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                    bind(descriptor, pointer, length) == 0 ? getsockname(descriptor, pointer, &length) : -1
                }
            }
            guard result == 0 else {
                close(descriptor)
                throw POSIXError(.init(rawValue: errno) ?? .EIO)
            }
            boundPort = UInt16(bigEndian: address.sin_port)
        }
        self.descriptor = descriptor
        port = boundPort
    }

    /// Answers the first query with `respond(query)`, datagram by datagram, then stops.
    func answerOnce(_ respond: @escaping @Sendable ([UInt8]) -> [[UInt8]]) {
        let descriptor = self.descriptor
        let finished = self.finished
        let thread = Thread {
            defer { finished.signal() }
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 5000) == 1 else { return }
            var buffer = [UInt8](repeating: 0, count: 4096)
            var peer = sockaddr_storage()
            var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let count = withUnsafeMutablePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(descriptor, &buffer, buffer.count, 0, $0, &peerLength) }
            }
            guard count > 0 else { return }
            for datagram in respond(Array(buffer[0..<count])) {
                _ = withUnsafePointer(to: &peer) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(descriptor, datagram, datagram.count, 0, $0, peerLength) }
                }
            }
        }
        self.thread = thread
        thread.start()
    }

    func stop() {
        if thread != nil {
            finished.wait()
            thread = nil
        }
        close(descriptor)
    }

    /// The query turned into a response with one answer record appended.
    static func reply(to query: [UInt8], id: UInt16? = nil, answer: [UInt8]) -> [UInt8] {
        var reply = query
        if let id {
            reply[0] = UInt8(id >> 8)
            reply[1] = UInt8(id & 0xFF)
        }
        reply[2] = 0x81
        reply[3] = 0x80
        reply[6] = 0
        reply[7] = 1
        return reply + answer
    }

    static func aRecord(_ octets: [UInt8]) -> [UInt8] {
        [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4] + octets
    }
}

final class DNSResolverFailureTests: XCTestCase {
    private var fakes: [FakeDNSServer] = []

    override func tearDown() {
        for fake in fakes { fake.stop() }
        fakes = []
        super.tearDown()
    }

    private func fake(ipv6: Bool = false) throws -> FakeDNSServer {
        let server = try FakeDNSServer(ipv6: ipv6)
        fakes.append(server)
        return server
    }

    private func failure(_ body: () throws(DNSQueryError) -> DNSAnswer) -> DNSQueryError? {
        do {
            let answer = try body()
            XCTFail("got an answer: \(answer)")
            return nil
        } catch {
            return error
        }
    }

    func testSilentServerTimesOutAfterEveryAttemptWithAClearError() throws {
        let silent = try fake()
        let started = Date()
        let error = failure { () throws(DNSQueryError) in
            try DNSResolver.query(
                name: "peer0.org1-f-1.svc.cluster.local", type: .A, server: "127.0.0.1", port: silent.port,
                timeout: 0.3, attempts: 2)
        }
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertEqual(error?.failure, .timeout(seconds: 0.3, attempts: 2))
        XCTAssertGreaterThanOrEqual(elapsed, 0.55)
        XCTAssertLessThan(elapsed, 3)
        XCTAssertEqual(
            error?.description,
            "DNS query A peer0.org1-f-1.svc.cluster.local to 127.0.0.1:\(silent.port) failed: timeout after 0.3s: no answer to 2 attempts. Check that the DNS server runs at 127.0.0.1:\(silent.port) and that nothing between here and it drops DNS traffic."
        )
    }

    func testClosedPortIsReportedAsConnectionRefusedWithoutWaiting() throws {
        let probe = try FakeDNSServer()
        let port = probe.port
        probe.stop()
        let started = Date()
        let error = failure { () throws(DNSQueryError) in
            try DNSResolver.query(name: "peer0.org1-f-1.svc.cluster.local", type: .A, server: "127.0.0.1", port: port, timeout: 2)
        }
        XCTAssertEqual(error?.failure, .connectionRefused)
        XCTAssertLessThan(Date().timeIntervalSince(started), 1.5)
        XCTAssertTrue(error?.description.contains("connection refused") ?? false)
        XCTAssertEqual(error?.server, "127.0.0.1")
        XCTAssertEqual(error?.name, "peer0.org1-f-1.svc.cluster.local")
    }

    func testRepliesWithAnotherIDAreIgnored() throws {
        let server = try fake()
        server.answerOnce { query in
            let id = UInt16(query[0]) << 8 | UInt16(query[1])
            return [
                FakeDNSServer.reply(to: query, id: id ^ 0x5A5A, answer: FakeDNSServer.aRecord([198, 18, 0, 66])),
                FakeDNSServer.reply(to: query, answer: FakeDNSServer.aRecord([198, 18, 0, 1])),
            ]
        }
        let answer = try DNSResolver.query(name: "peer0.test", type: .A, server: "127.0.0.1", port: server.port, timeout: 2, attempts: 1)
        XCTAssertEqual(answer.answers, ["198.18.0.1"])
    }

    func testQueriesUseRandomIDs() throws {
        var ids = Set<UInt16>()
        for _ in 0..<8 {
            let server = try fake()
            let seen = IDBox()
            server.answerOnce { query in
                seen.set(UInt16(query[0]) << 8 | UInt16(query[1]))
                return [FakeDNSServer.reply(to: query, answer: FakeDNSServer.aRecord([198, 18, 0, 1]))]
            }
            _ = try DNSResolver.query(name: "peer0.test", type: .A, server: "127.0.0.1", port: server.port, timeout: 2, attempts: 1)
            server.stop()
            fakes.removeAll { $0 === server }
            ids.insert(seen.get())
        }
        XCTAssertGreaterThan(ids.count, 4)
    }

    func testCompressionPointerLoopIsAMalformedAnswer() throws {
        let server = try fake()
        server.answerOnce { query in
            // The answer's name points at itself.
            let offset = query.count
            let looping: [UInt8] = [0xC0 | UInt8(offset >> 8), UInt8(offset & 0xFF), 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]
            return [FakeDNSServer.reply(to: query, answer: looping)]
        }
        let error = failure { () throws(DNSQueryError) in
            try DNSResolver.query(name: "peer0.test", type: .A, server: "127.0.0.1", port: server.port, timeout: 2, attempts: 1)
        }
        guard case .malformedAnswer(let reason)? = error?.failure else {
            return XCTFail("expected a malformed answer, got \(String(describing: error))")
        }
        XCTAssertTrue(reason.contains("loops"), reason)
    }

    func testIPv6ServerLiteralsWork() throws {
        let server: FakeDNSServer
        do {
            server = try fake(ipv6: true)
        } catch {
            throw XCTSkip("no IPv6 loopback here: \(error)")
        }
        server.answerOnce { query in [FakeDNSServer.reply(to: query, answer: FakeDNSServer.aRecord([198, 18, 0, 1]))] }
        let answer = try DNSResolver.query(name: "peer0.test", type: .A, server: "::1", port: server.port, timeout: 2, attempts: 1)
        XCTAssertEqual(answer.server, "::1")
        XCTAssertEqual(answer.answers, ["198.18.0.1"])
    }

    func testGarbageNamesAreRejectedBeforeAnythingIsSent() {
        for name in ["", ".", "a..b", "peer0 --x", "$(reboot)", "a/b", String(repeating: "a", count: 64) + ".b", "peer\n0"] {
            let error = failure { () throws(DNSQueryError) in
                try DNSResolver.query(name: name, type: .A, server: "127.0.0.1", port: 1)
            }
            guard case .invalidName? = error?.failure else {
                XCTFail("\(name.debugDescription): \(String(describing: error))")
                continue
            }
        }
    }

    func testServerMustBeAnIPLiteralAndArgumentsSane() {
        for server in ["localhost", "10.0.0.10:53", "fe80::1%eth0", ""] {
            XCTAssertEqual(
                failure { () throws(DNSQueryError) in
                    try DNSResolver.query(name: "a.b", type: .A, server: server)
                }?.failure, .invalidServer, server)
        }
        XCTAssertNotNil(failure { () throws(DNSQueryError) in try DNSResolver.query(name: "a.b", type: .A, server: "127.0.0.1", timeout: 0) })
        XCTAssertNotNil(failure { () throws(DNSQueryError) in try DNSResolver.query(name: "a.b", type: .A, server: "127.0.0.1", attempts: 0) })
    }
}

/// A value written by the fake server's thread and read by the test.
final class IDBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: UInt16 = 0

    func set(_ newValue: UInt16) {
        lock.lock()
        value = newValue
        lock.unlock()
    }

    func get() -> UInt16 {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
}
