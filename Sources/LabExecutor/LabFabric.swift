import Foundation
import Lab

/// `lab up --fabric`: on top of a lab that is up, Fabric's chaincode images in every node's Docker, and the lab's
/// Kubernetes API with the executor that runs what is applied to it.
public enum LabFabric {
    public static func up(_ lab: LabState, release: String, coordinator: String, images withImages: Bool = true,
                          progress: (String) -> Void) throws -> LabState {
        var state = lab
        let images: [String] = []
        progress("fabric: Kubernetes API and executor (pods run from \(release))")
        let pid = try LabAPIServer.start(lab: state, release: release, coordinator: coordinator)
        state.fabric = LabFabricInfo(release: release, kubeconfig: LabAPIServer.kubeconfig(state), servePID: pid, images: images)
        try state.save()
        progress("fabric: kubeconfig \(LabAPIServer.kubeconfig(state)) (pid \(pid)); log \(LabAPIServer.logFile(state))")
        return state
    }
}
