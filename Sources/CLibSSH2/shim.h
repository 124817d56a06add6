// Wrappers for libssh2 helpers that are macros in libssh2.h, which Swift cannot import.
#ifndef BOK_CLIBSSH2_SHIM_H
#define BOK_CLIBSSH2_SHIM_H
#include <libssh2.h>
#include <libssh2_sftp.h>

static inline LIBSSH2_SESSION *bok_ssh2_session_init(void) { return libssh2_session_init(); }
static inline LIBSSH2_CHANNEL *bok_ssh2_channel_open_session(LIBSSH2_SESSION *s) { return libssh2_channel_open_session(s); }
static inline int bok_ssh2_channel_exec(LIBSSH2_CHANNEL *c, const char *cmd) { return libssh2_channel_exec(c, cmd); }
static inline ssize_t bok_ssh2_channel_read(LIBSSH2_CHANNEL *c, char *buf, size_t n) { return libssh2_channel_read(c, buf, n); }
static inline ssize_t bok_ssh2_channel_read_stderr(LIBSSH2_CHANNEL *c, char *buf, size_t n) { return libssh2_channel_read_stderr(c, buf, n); }
static inline ssize_t bok_ssh2_channel_write(LIBSSH2_CHANNEL *c, const char *buf, size_t n) { return libssh2_channel_write(c, buf, n); }
static inline int bok_ssh2_channel_send_eof(LIBSSH2_CHANNEL *c) { return libssh2_channel_send_eof(c); }
static inline int bok_ssh2_channel_close(LIBSSH2_CHANNEL *c) { return libssh2_channel_close(c); }
static inline int bok_ssh2_channel_wait_closed(LIBSSH2_CHANNEL *c) { return libssh2_channel_wait_closed(c); }
static inline int bok_ssh2_channel_eof(LIBSSH2_CHANNEL *c) { return libssh2_channel_eof(c); }
static inline int bok_ssh2_session_disconnect(LIBSSH2_SESSION *s, const char *why) { return libssh2_session_disconnect(s, why); }
static inline int bok_ssh2_userauth_password(LIBSSH2_SESSION *s, const char *u, const char *p) { return libssh2_userauth_password(s, u, p); }
static inline int bok_ssh2_userauth_publickey_fromfile(LIBSSH2_SESSION *s, const char *u, const char *pub, const char *priv, const char *pass) {
    return libssh2_userauth_publickey_fromfile(s, u, pub, priv, pass);
}
static inline LIBSSH2_CHANNEL *bok_ssh2_scp_send64(LIBSSH2_SESSION *s, const char *path, int mode, libssh2_int64_t size) {
    return libssh2_scp_send64(s, path, mode, size, 0, 0);
}
static inline LIBSSH2_SFTP_HANDLE *bok_ssh2_sftp_open(LIBSSH2_SFTP *sftp, const char *path, unsigned long flags, long mode) {
    return libssh2_sftp_open(sftp, path, flags, mode);
}
static inline int bok_ssh2_sftp_close(LIBSSH2_SFTP_HANDLE *h) { return libssh2_sftp_close(h); }
#endif
