import BoKSystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Readiness probes as the kubelet runs them, from outside the pod: an HTTP GET answered with 200–399, or a TCP
/// connection accepted. HTTPS probes (which the kubelet runs without verifying the certificate) are checked as a
/// TCP connection here; exec probes count as passing while the container runs.
enum ReadinessProbe {
    static func check(_ probe: ProbePlan, address: String, timeout: Double = 1) -> Bool {
        switch probe {
        case .tcp(let port): return withConnection(address, port, timeout) { _ in true }
        case .http(let port, _, true): return withConnection(address, port, timeout) { _ in true }
        case .http(let port, let path, false):
            return withConnection(address, port, timeout) { fd in
                let request = "GET \(path) HTTP/1.0\r\nHost: \(address):\(port)\r\nUser-Agent: kube-probe/bok-lab\r\n\r\n"
                guard request.withCString({ send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }) > 0 else { return false }
                var buffer = [UInt8](repeating: 0, count: 64)
                let n = recv(fd, &buffer, buffer.count, 0)
                guard n >= 12 else { return false }
                let line = String(decoding: buffer[0..<n], as: UTF8.self)
                guard let code = Int(line.split(separator: " ").dropFirst().first ?? "") else { return false }
                return (200..<400).contains(code)
            }
        case .exec: return true
        }
    }

    private static func withConnection(_ address: String, _ port: Int, _ timeout: Double, _ body: (Int32) -> Bool) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - floor(timeout)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        guard let octets = IPAddressLiteral.parse(address), octets.count == 4 else { return false }
        withUnsafeMutableBytes(of: &addr.sin_addr) { $0.copyBytes(from: octets) }
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return false }
        return body(fd)
    }
}
