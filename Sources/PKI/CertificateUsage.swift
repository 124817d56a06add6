import X509

/// What a certificate is for; decides its key usage and extended key usage.
public enum CertificateUsage: Sendable, Equatable {
    /// A TLS server (digitalSignature, keyEncipherment; serverAuth).
    case server
    /// A TLS client (digitalSignature, keyEncipherment; clientAuth).
    case client
    /// Both ends of mutual TLS, as Fabric's TLS certificates are (serverAuth and clientAuth).
    case serverAndClient
    /// A signing identity such as a Fabric MSP enrollment certificate (digitalSignature only, no EKU).
    case signing

    var keyUsage: KeyUsage {
        switch self {
        case .server, .client, .serverAndClient: return KeyUsage(digitalSignature: true, keyEncipherment: true)
        case .signing: return KeyUsage(digitalSignature: true)
        }
    }

    var extendedKeyUsage: [ExtendedKeyUsage.Usage] {
        switch self {
        case .server: return [.serverAuth]
        case .client: return [.clientAuth]
        case .serverAndClient: return [.serverAuth, .clientAuth]
        case .signing: return []
        }
    }
}
