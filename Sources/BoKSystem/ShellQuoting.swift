/// `'text'` for a POSIX shell, embedded single quotes written as `'\''`: BoK's one shell quoting, for every command
/// line sent over SSH or rendered into a script.
public func shellQuoted(_ text: String) -> String {
    "'" + text.replacing("'", with: #"'\''"#) + "'"
}
