# Sourced by the test scripts: need PKG... installs the Debian packages
# that aren't installed yet, updating the package lists only if the first
# try fails. The caller defines log().
need() {
    local p pkgs=()
    for p; do
        [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || pkgs+=("$p")
    done
    ((${#pkgs[@]})) || return 0
    log "installing ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${pkgs[@]}" >&2 ||
        { apt-get update -q >&2 && apt-get install -y -q "${pkgs[@]}" >&2; }
}
