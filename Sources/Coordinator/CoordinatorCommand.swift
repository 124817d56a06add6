import AgentProtocol
import ArgumentParser
import CryptoCLI

/// The admin's CLI. Each subcommand lives in its own file.
@main
struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "BoK coordinator: roll out Hyperledger Fabric and its worker nodes on Kubernetes.",
        version: BoKVersion.string,
        subcommands: [
            VersionCommand.self, ValidateCommand.self, CryptoCommand.self, RenderCommand.self, CACommand.self, CertsCommand.self,
            HealthCommand.self, StatusCommand.self, DNSCommand.self, KubeconfigCommand.self, LabCommand.self,
            AgentsCommand.self, RolloutCommand.self, StopCommand.self, StartCommand.self, TeardownCommand.self,
            ChaincodeCommand.self, PreflightCommand.self,
        ]
    )
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the coordinator's version.")
    func run() { print("coordinator \(BoKVersion.string) (protocol \(ProtocolVersion.current))") }
}
