// The user and group the workers run as (the `user` and `group` settings,
// gunicorn's): looked up by name or numeric id in the master, then taken on
// by each worker right after fork, before it loads the App.
#ifndef THRIFTD_SRC_BASE_CREDENTIALS_H_
#define THRIFTD_SRC_BASE_CREDENTIALS_H_

#include <sys/types.h>

#include <string>

#include "src/base/status.h"

namespace thriftd {

/// Who a worker runs as. Built by the master (LookUpUser, LookUpGroup);
/// `name`s are for log lines.
struct Credentials {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string user_name;   ///< the passwd name, or the id when it has none
  std::string group_name;  ///< the group name, or the id when it has none
  /// The user's supplementary groups are taken on with it (initgroups);
  /// false when only `group` was set, and the worker keeps no
  /// supplementary group at all (root's would otherwise stay).
  bool has_user_entry = false;
};

/// Finds `text`, a user name or a numeric uid, in the user database. Sets
/// *uid, *primary_gid (the user's group; an id without an entry has none:
/// -1) and *name. The error reads "no such user \"nobdy\"".
Status LookUpUser(const std::string& text, uid_t* uid, gid_t* primary_gid, std::string* name);
/// Finds `text`, a group name or a numeric gid. The error reads "no such
/// group \"nogrp\"".
Status LookUpGroup(const std::string& text, gid_t* gid, std::string* name);

/// Runs in a worker (and the --check-config trial) after fork, before the
/// App is loaded: sets the supplementary groups (initgroups for a user with
/// an entry, none otherwise), then the gid, then the uid, each checked, and
/// verifies the change took: the ids read back, and for a uid other than
/// root, setuid(0) fails and no capability is left (securebits such as
/// SECBIT_NO_SETUID_FIXUP keep them through the uid change: they are cleared
/// here). Also sets PR_SET_PDEATHSIG to `pdeath_signal`
/// again: the kernel clears it when the credentials change. The error names
/// the failing call.
Status TakeCredentials(const Credentials& credentials, int pdeath_signal);

}  // namespace thriftd

#endif  // THRIFTD_SRC_BASE_CREDENTIALS_H_
