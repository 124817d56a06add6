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

    public static var agent: String { directory + "/agent" }
    public static var coordinator: String { directory + "/coordinator" }
}
