/// The version of this BoK build, shared by agent and coordinator.
public enum BoKVersion {
    public static let string = "0.1.0"
}
