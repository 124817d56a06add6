import Foundation

/// Where `swift build` put the executables the tests run (`agent`, `coordinator`): the test
/// bundle lives next to them in `.build/<triple>/<config>/`.
public enum BuildProducts {
    public static var directory: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = (exe as NSString).deletingLastPathComponent
        while !dir.isEmpty, dir != "/" {
            if FileManager.default.isExecutableFile(atPath: dir + "/agent") { return dir }
            dir = (dir as NSString).deletingLastPathComponent
        }
        return (exe as NSString).deletingLastPathComponent
    }

    /// The package's root: the nearest directory above the build products that holds Package.swift.
    public static var repositoryRoot: String {
        var dir = directory
        while !dir.isEmpty, dir != "/" {
            if FileManager.default.fileExists(atPath: dir + "/Package.swift") { return dir }
            dir = (dir as NSString).deletingLastPathComponent
        }
        return FileManager.default.currentDirectoryPath
    }

    public static var agent: String { directory + "/agent" }
    public static var coordinator: String { directory + "/coordinator" }
    public static var kubeStandIn: String { directory + "/kube-standin" }
}

/// Runs one of the package's executables to the end, its output captured in files under `scratch` (no pipe to fill
/// up), standard input closed: what a script calling BoK sees.
public enum ProductRun {
    public static func run(_ executable: String, _ args: [String], scratch: String) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = args
        let out = scratch + "/out"
        let err = scratch + "/err"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return (
            process.terminationStatus, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
            (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
        )
    }
}
