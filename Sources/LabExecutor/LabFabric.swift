import BoKSystem
import Foundation
import Lab

/// `lab up --fabric`: on top of a lab that is up, Fabric's chaincode images in every node's Docker, and the lab's
/// Kubernetes API with the executor that runs what is applied to it.
public enum LabFabric {
    public static func up(
        _ lab: LabState, release: String, coordinator: String, images withImages: Bool = true,
        progress: (String) -> Void
    ) throws -> LabState {
        var state = lab
        var images: [String] = []
        if withImages {
            progress(
                "fabric: chaincode images \(FabricImages.ccenvName()) and \(FabricImages.baseosName()) (built from Debian packages once, cached)")
            let built = try FabricImages.ensureBuilt(progress: progress)
            images = built.all.map(\.name)
            // Every node's Docker, at once: each import is a few seconds of disk work.
            let outcomes = Locked((notes: [String](), failures: [String]()))
            let nodes = lab.nodes
            DispatchQueue.concurrentPerform(iterations: nodes.count) { i in
                let node = nodes[i]
                do {
                    let imported = try FabricImages.importMissing(into: node, state: lab)
                    let note =
                        imported.isEmpty ? "\(node.name): images already present" : "\(node.name): imported \(imported.joined(separator: ", "))"
                    outcomes.update { $0.notes.append(note) }
                } catch {
                    outcomes.update { $0.failures.append("\(error)") }
                }
            }
            outcomes.value.notes.sorted().forEach { progress("fabric: \($0)") }
            if let failure = outcomes.value.failures.first { throw ExecutorError(failure) }
        }
        progress("fabric: Kubernetes API and executor (pods run from \(release))")
        let pid = try LabAPIServer.start(lab: state, release: release, coordinator: coordinator)
        state.fabric = LabFabricInfo(release: release, kubeconfig: LabAPIServer.kubeconfig(state), servePID: pid, images: images)
        try state.save()
        progress("fabric: kubeconfig \(LabAPIServer.kubeconfig(state)) (pid \(pid)); log \(LabAPIServer.logFile(state))")
        return state
    }
}
