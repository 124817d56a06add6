/// A connected TCP socket; owns the file descriptor and closes it in `deinit`.
///
/// The socket stays non-blocking: libssh2 runs in non-blocking mode and every wait goes through
/// poll(2) with a deadline.
final class TCPSocket {
    let fileDescriptor: Int32
    /// The numeric address actually connected to, for messages.
    let peerAddress: String

    private init(fileDescriptor: Int32, peerAddress: String) {
        self.fileDescriptor = fileDescriptor
        self.peerAddress = peerAddress
    }

    deinit { close(fileDescriptor) }

    /// Resolves `target.host` and connects to the first address that answers, all before `deadline`.
    static func connect(to target: SSHTarget, deadline: Deadline) throws(SSHError) -> TCPSocket {
        guard (1...65535).contains(target.port) else {
            throw SSHError(target, .connect, .invalidArgument, "port \(target.port) is not a valid TCP port")
        }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Darwin)
            hints.ai_socktype = SOCK_STREAM
        #else
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(target.host, String(target.port), &hints, &list)
        guard resolved == 0, let first = list else {
            throw SSHError(
                target, .connect, .connectionFailed,
                "cannot resolve host name '\(target.host)': \(String(cString: gai_strerror(resolved)))",
                hint: "Check the spelling, or give the master's IP address.")
        }
        defer { freeaddrinfo(first) }

        var failures: [String] = []
        var timedOut = false
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            cursor = info.pointee.ai_next
            let address = numericAddress(info.pointee.ai_addr, info.pointee.ai_addrlen)
            switch attempt(info.pointee, deadline: deadline) {
            case .success(let fd):
                return TCPSocket(fileDescriptor: fd, peerAddress: address)
            case .failure(let error):
                failures.append("\(address): \(error.text)")
                if error.timedOut { timedOut = true }
            }
            if deadline.hasPassed { break }
        }
        if timedOut {
            throw SSHError(
                target, .connect, .timedOut,
                "no TCP connection within \(formatSeconds(deadline.seconds)) (\(failures.joined(separator: "; ")))",
                hint: "Is the host up and port \(target.port) open? A firewall that drops packets looks like this.")
        }
        throw SSHError(
            target, .connect, .connectionFailed,
            "cannot connect (\(failures.joined(separator: "; ")))",
            hint: "Is sshd running on \(target.host) and listening on port \(target.port)?")
    }

    private struct AttemptError: Error {
        var text: String
        var timedOut = false
    }

    private static func attempt(_ info: addrinfo, deadline: Deadline) -> Result<Int32, AttemptError> {
        let fd = socket(info.ai_family, info.ai_socktype, info.ai_protocol)
        guard fd >= 0 else { return .failure(AttemptError(text: POSIXErrorText.describe(errno))) }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        #if canImport(Darwin)
            var one: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
        #endif
        if systemConnect(fd, info.ai_addr, info.ai_addrlen) == 0 {
            setNoDelay(fd)
            return .success(fd)
        }
        guard errno == EINPROGRESS else {
            let text = POSIXErrorText.describe(errno)
            close(fd)
            return .failure(AttemptError(text: text))
        }
        var pending = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        while true {
            let ready = poll(&pending, 1, deadline.remainingMilliseconds)
            if ready < 0 && errno == EINTR { continue }
            if ready == 0 {
                close(fd)
                return .failure(AttemptError(text: "timed out", timedOut: true))
            }
            break
        }
        var soError: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
        guard soError == 0 else {
            close(fd)
            return .failure(AttemptError(text: POSIXErrorText.describe(soError)))
        }
        setNoDelay(fd)
        return .success(fd)
    }

    /// SSH exchanges many small request/reply messages; with Nagle's algorithm each one can wait for
    /// the peer's delayed ACK (40 ms on Linux). OpenSSH sets TCP_NODELAY too.
    private static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    private static func numericAddress(_ address: UnsafeMutablePointer<sockaddr>?, _ length: socklen_t) -> String {
        guard let address else { return "?" }
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        guard getnameinfo(address, length, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0 else { return "?" }
        return String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

// `connect` is shadowed by the static method above; reach the C function by another name.
@inline(__always)
private func systemConnect(_ fd: Int32, _ address: UnsafeMutablePointer<sockaddr>?, _ length: socklen_t) -> Int32 {
    connect(fd, address, length)
}
