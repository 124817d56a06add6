/// What `lab up --fabric` adds to a lab: the Fabric release its executor runs, and its Kubernetes API.
public struct LabFabricInfo: Codable, Sendable, Equatable {
    /// The Fabric release directory (bin/, config/).
    public var release: String
    /// The kubeconfig of the lab's Kubernetes API (0600).
    public var kubeconfig: String
    /// The PID of `coordinator lab serve` (the API and the executor).
    public var servePID: Int32
    /// Fabric's chaincode images imported into every node's Docker.
    public var images: [String]

    public init(release: String, kubeconfig: String, servePID: Int32, images: [String]) {
        self.release = release
        self.kubeconfig = kubeconfig
        self.servePID = servePID
        self.images = images
    }

    public static func servePIDFile(root: String) -> String { root + "/executor/serve.pid" }
}
