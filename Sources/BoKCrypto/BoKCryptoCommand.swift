import AgentProtocol
import ArgumentParser
import CryptoCLI

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `bok-crypto`: BoK's crypto material on its own — `coordinator crypto` (generate, status, renew) in a small
/// executable with none of the coordinator's Kubernetes, SSH or fleet code, for a CA machine or a pipeline step that
/// only makes Fabric material (as Fabric ships `cryptogen` apart from `peer`). Same options, same files, same exit
/// codes. `coordinator crypto …` runs it when it sits beside the coordinator (it starts in a fraction of the memory).
@main
struct BoKCryptoCommand: ParsableCommand {
    /// `bok-crypto`, or `coordinator crypto` when the coordinator handed over to it (its usage and help then read as
    /// the coordinator's).
    static var configuration: CommandConfiguration {
        let handedOver = ProcessInfo.processInfo.environment["BOK_CRYPTO_COMMAND_NAME"]
        return CommandConfiguration(
            commandName: handedOver ?? "bok-crypto",
            abstract: handedOver == nil
                ? "Fabric MSP and TLS material: generate (default), status, renew — `coordinator crypto` on its own."
                : CryptoCommand.configuration.abstract,
            version: BoKVersion.string,
            subcommands: CryptoCommand.configuration.subcommands,
            defaultSubcommand: CryptoCommand.configuration.defaultSubcommand)
    }

    static func main() async { await runCommandLine() }
}
