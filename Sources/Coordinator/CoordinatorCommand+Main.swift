import ArgumentParser
import CryptoCLI

extension CoordinatorCommand {
    /// The whole command tree; usage errors exit with 2 (`runCommandLine`). (`coordinator crypto …` may never get
    /// here: the CryptoHandover target hands it to the `bok-crypto` beside the coordinator before the runtime starts.)
    static func main() async { await runCommandLine() }
}
