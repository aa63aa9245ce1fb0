// Namespace and device syscalls that Node does not expose, for the netlink layer.
//
// runInNetns(fd, fn): switch the calling (main) thread into the network namespace `fd`,
// call `fn` synchronously, and switch back to the namespace the thread was in before,
// whether `fn` returns or throws. Sockets created and /proc/sys files opened inside `fn`
// stay bound to the target namespace. If switching back fails the process aborts: carrying
// on in the wrong namespace would silently misconfigure the host.
//
// Errors are JS Errors with `code` (e.g. "EINVAL"), `errno` (positive) and `syscall`.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/mount.h>
#include <linux/nsfs.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <node_api.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define CHECK(call)                                                                       \
  do {                                                                                     \
    if ((call) != napi_ok) {                                                               \
      napi_throw_error(env, "EADDON", "setns addon: N-API call failed: " #call);           \
      return NULL;                                                                         \
    }                                                                                      \
  } while (0)

static napi_value throw_errno(napi_env env, int err, const char *syscall_name, const char *detail) {
  char message[512];
  const char *code = strerrorname_np(err);
  snprintf(message, sizeof message, "%s(%s): %s", syscall_name, detail, strerror(err));
  napi_value error, code_value, message_value, errno_value, syscall_value;
  if (napi_create_string_utf8(env, code ? code : "EUNKNOWN", NAPI_AUTO_LENGTH, &code_value) != napi_ok ||
      napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &message_value) != napi_ok ||
      napi_create_error(env, code_value, message_value, &error) != napi_ok ||
      napi_create_int32(env, err, &errno_value) != napi_ok ||
      napi_create_string_utf8(env, syscall_name, NAPI_AUTO_LENGTH, &syscall_value) != napi_ok ||
      napi_set_named_property(env, error, "errno", errno_value) != napi_ok ||
      napi_set_named_property(env, error, "syscall", syscall_value) != napi_ok) {
    napi_throw_error(env, code, message);
    return NULL;
  }
  napi_throw(env, error);
  return NULL;
}

static int get_args(napi_env env, napi_callback_info info, size_t expected, napi_value *argv) {
  size_t argc = expected;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return -1;
  if (argc < expected) {
    napi_throw_type_error(env, "EINVAL", "setns addon: missing arguments");
    return -1;
  }
  return 0;
}

static int get_int(napi_env env, napi_value value, const char *what, int32_t *out) {
  if (napi_get_value_int32(env, value, out) != napi_ok) {
    char message[128];
    snprintf(message, sizeof message, "setns addon: %s must be a number", what);
    napi_throw_type_error(env, "EINVAL", message);
    return -1;
  }
  return 0;
}

static int get_string(napi_env env, napi_value value, const char *what, char *buf, size_t size) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, value, buf, size, &len) != napi_ok || len == 0 || len >= size - 1) {
    char message[128];
    snprintf(message, sizeof message, "setns addon: %s must be a non-empty string shorter than %zu bytes", what,
             size - 1);
    napi_throw_type_error(env, "EINVAL", message);
    return -1;
  }
  return 0;
}

static napi_value run_in_netns(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t target;
  napi_valuetype fn_type;
  if (get_args(env, info, 2, argv) || get_int(env, argv[0], "fd", &target)) return NULL;
  CHECK(napi_typeof(env, argv[1], &fn_type));
  if (fn_type != napi_function) {
    napi_throw_type_error(env, "EINVAL", "setns addon: runInNetns needs a function");
    return NULL;
  }

  int original = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (original < 0) return throw_errno(env, errno, "open", "/proc/thread-self/ns/net");
  if (setns(target, CLONE_NEWNET) != 0) {
    int err = errno;
    char detail[64];
    close(original);
    snprintf(detail, sizeof detail, "fd %d, CLONE_NEWNET", target);
    return throw_errno(env, err, "setns", detail);
  }

  napi_value global, result = NULL;
  napi_status status = napi_get_global(env, &global);
  if (status == napi_ok) status = napi_call_function(env, global, argv[1], 0, NULL, &result);

  if (setns(original, CLONE_NEWNET) != 0) {
    char message[160];
    snprintf(message, sizeof message, "setns: cannot return to the original network namespace: %s", strerror(errno));
    napi_fatal_error("ovnic/setns", NAPI_AUTO_LENGTH, message, NAPI_AUTO_LENGTH);
  }
  close(original);
  // napi_pending_exception: the JS exception propagates to our caller unchanged
  return status == napi_ok ? result : NULL;
}

static napi_value ns_type(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  int32_t fd;
  if (get_args(env, info, 1, argv) || get_int(env, argv[0], "fd", &fd)) return NULL;
  int type = ioctl(fd, NS_GET_NSTYPE);
  if (type < 0) {
    char detail[48];
    snprintf(detail, sizeof detail, "fd %d, NS_GET_NSTYPE", fd);
    return throw_errno(env, errno, "ioctl", detail);
  }
  CHECK(napi_create_int32(env, type, &out));
  return out;
}

// A detached read-only sysfs mount of the calling thread's current network namespace
// (sysfs captures the netns at fs-context creation). Returns the mount fd; paths below
// /proc/self/fd/<fd>/ read it. Nothing is attached to any mount tree.
static napi_value mount_sysfs(napi_env env, napi_callback_info info) {
  napi_value out;
  int fs = (int)syscall(SYS_fsopen, "sysfs", FSOPEN_CLOEXEC);
  if (fs < 0) return throw_errno(env, errno, "fsopen", "sysfs");
  if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) != 0) {
    int err = errno;
    close(fs);
    return throw_errno(env, err, "fsconfig", "sysfs, FSCONFIG_CMD_CREATE");
  }
  int mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC,
                         MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
  int err = errno;
  close(fs);
  if (mnt < 0) return throw_errno(env, err, "fsmount", "sysfs");
  CHECK(napi_create_int32(env, mnt, &out));
  return out;
}

static napi_value make_char_device(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  char path[4096];
  int32_t mode, major_number, minor_number;
  if (get_args(env, info, 4, argv) || get_string(env, argv[0], "path", path, sizeof path) ||
      get_int(env, argv[1], "mode", &mode) || get_int(env, argv[2], "major", &major_number) ||
      get_int(env, argv[3], "minor", &minor_number))
    return NULL;
  if (mknod(path, S_IFCHR | (mode & 07777), makedev(major_number, minor_number)) != 0)
    return throw_errno(env, errno, "mknod", path);
  return NULL;
}

static int ethtool_value_ioctl(napi_env env, const char *ifname, struct ethtool_value *value) {
  struct ifreq request;
  memset(&request, 0, sizeof request);
  strncpy(request.ifr_name, ifname, IFNAMSIZ - 1);
  request.ifr_data = (char *)value;
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) {
    throw_errno(env, errno, "socket", "AF_INET, SOCK_DGRAM");
    return -1;
  }
  int rc = ioctl(sock, SIOCETHTOOL, &request);
  int err = errno;
  close(sock);
  if (rc != 0) {
    char detail[64];
    snprintf(detail, sizeof detail, "%s, SIOCETHTOOL 0x%x", ifname, value->cmd);
    throw_errno(env, err, "ioctl", detail);
    return -1;
  }
  return 0;
}

// ethtoolGet(ifname, cmd) -> number: an ETHTOOL_G* command taking struct ethtool_value.
static napi_value ethtool_get(napi_env env, napi_callback_info info) {
  napi_value argv[2], out;
  char ifname[IFNAMSIZ + 1];
  int32_t cmd;
  if (get_args(env, info, 2, argv) || get_string(env, argv[0], "ifname", ifname, sizeof ifname) ||
      get_int(env, argv[1], "cmd", &cmd))
    return NULL;
  struct ethtool_value value = {.cmd = (uint32_t)cmd, .data = 0};
  if (ethtool_value_ioctl(env, ifname, &value) != 0) return NULL;
  CHECK(napi_create_uint32(env, value.data, &out));
  return out;
}

// ethtoolSet(ifname, cmd, data): an ETHTOOL_S* command taking struct ethtool_value.
static napi_value ethtool_set(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char ifname[IFNAMSIZ + 1];
  int32_t cmd, data;
  if (get_args(env, info, 3, argv) || get_string(env, argv[0], "ifname", ifname, sizeof ifname) ||
      get_int(env, argv[1], "cmd", &cmd) || get_int(env, argv[2], "data", &data))
    return NULL;
  struct ethtool_value value = {.cmd = (uint32_t)cmd, .data = (uint32_t)data};
  ethtool_value_ioctl(env, ifname, &value);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value clone_newnet;
  napi_property_descriptor properties[] = {
      {"runInNetns", NULL, run_in_netns, NULL, NULL, NULL, napi_enumerable, NULL},
      {"nsType", NULL, ns_type, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mountSysfs", NULL, mount_sysfs, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mknodChar", NULL, make_char_device, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ethtoolGet", NULL, ethtool_get, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ethtoolSet", NULL, ethtool_set, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties));
  CHECK(napi_create_int32(env, CLONE_NEWNET, &clone_newnet));
  CHECK(napi_set_named_property(env, exports, "CLONE_NEWNET", clone_newnet));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
