import ArgumentParser
import CryptoCLI
import Foundation
import KubeClient

/// Options shared by every command that talks to the Kubernetes API.
struct KubeOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The kubeconfig (default: $KUBECONFIG, else ~/.kube/config).", valueName: "FILE"))
    var kubeconfig: String?
    @Option(name: .long, help: ArgumentHelp("The kubeconfig context (default: its current-context).", valueName: "NAME"))
    var context: String?
    @Option(name: .long, help: ArgumentHelp("Seconds one Kubernetes API request may take (idempotent requests are retried).", valueName: "SECONDS"))
    var requestTimeout: Double = 30

    func validate() throws {
        guard requestTimeout > 0 else { throw ValidationError("--request-timeout must be positive, got \(requestTimeout)") }
    }

    /// A client for the chosen context; a kubeconfig that cannot be used exits with 2.
    func client() throws -> KubeClient {
        do {
            return KubeClient(config: try KubeConfig.load(path: kubeconfig, context: context), requestTimeout: requestTimeout)
        } catch {
            StandardError.print("coordinator: \(error)")
            throw ExitCode(CoordinatorExit.invalidInput)
        }
    }
}
