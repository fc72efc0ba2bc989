package imagesrc

import (
	"net/netip"
	"strings"
)

// forbiddenPrefix is one address range the fetcher never connects to, with the reason that is
// reported to the caller (the address itself stays in the internal error).
type forbiddenPrefix struct {
	prefix netip.Prefix
	reason string
}

func mustPrefixes(pairs ...string) []forbiddenPrefix {
	out := make([]forbiddenPrefix, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, forbiddenPrefix{netip.MustParsePrefix(pairs[i]), pairs[i+1]})
	}
	return out
}

// forbiddenV4 lists every IPv4 range that is not plain public unicast (RFC 6890 special-purpose
// registry, plus CGNAT where Alibaba and others put their metadata services).
var forbiddenV4 = mustPrefixes(
	"0.0.0.0/8", "unspecified/this-network",
	"10.0.0.0/8", "private",
	"100.64.0.0/10", "carrier-grade NAT",
	"127.0.0.0/8", "loopback",
	"169.254.0.0/16", "link-local/metadata",
	"172.16.0.0/12", "private",
	"192.0.0.0/24", "IETF protocol assignment",
	"192.0.2.0/24", "documentation",
	"192.88.99.0/24", "6to4 relay",
	"192.168.0.0/16", "private",
	"198.18.0.0/15", "benchmarking",
	"198.51.100.0/24", "documentation",
	"203.0.113.0/24", "documentation",
	"224.0.0.0/4", "multicast",
	"240.0.0.0/4", "reserved",
)

// forbiddenV6 lists IPv6 ranges that are never a public image host. Ranges that embed an IPv4
// address (mapped, NAT64, 6to4) are handled in checkAddr by checking the embedded address.
var forbiddenV6 = mustPrefixes(
	"::/96", "IPv4-compatible/unspecified/loopback", // deprecated (RFC 4291); covers :: and ::1
	"64:ff9b:1::/48", "local NAT64",
	"100::/64", "discard",
	"2001::/32", "Teredo", // embeds an obfuscated client address: cannot be judged, so refused
	"2001:db8::/32", "documentation",
	"2001:10::/28", "ORCHID",
	"2001:20::/28", "ORCHID",
	"3fff::/20", "documentation",
	"fc00::/7", "unique local (private)",
	"fe80::/10", "link-local",
	"fec0::/10", "site-local",
	"ff00::/8", "multicast",
)

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// checkAddr reports why a is not a public unicast address the fetcher may connect to, or ""
// when it may. IPv6 forms that carry an IPv4 address are judged by that address, so
// ::ffff:127.0.0.1 and 64:ff9b::a9fe:a9fe are refused like 127.0.0.1 and 169.254.169.254.
func checkAddr(a netip.Addr) string {
	if !a.IsValid() {
		return "invalid address"
	}
	a = a.WithZone("")
	if a.Is4In6() {
		a = a.Unmap()
	}
	if a.Is4() {
		for _, f := range forbiddenV4 {
			if f.prefix.Contains(a) {
				return f.reason
			}
		}
		if a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			return "broadcast"
		}
		return ""
	}
	if nat64.Contains(a) {
		b := a.As16()
		if r := checkAddr(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})); r != "" {
			return r + " (via NAT64)"
		}
		return ""
	}
	if sixToFour.Contains(a) {
		b := a.As16()
		if r := checkAddr(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})); r != "" {
			return r + " (via 6to4)"
		}
		return ""
	}
	for _, f := range forbiddenV6 {
		if f.prefix.Contains(a) {
			return f.reason
		}
	}
	if !a.IsGlobalUnicast() {
		return "not global unicast"
	}
	return ""
}

// forbiddenNames are host names of cloud metadata services and local names, refused by name
// so that a resolver answering something unexpected for them cannot matter.
var forbiddenNames = map[string]bool{
	"localhost":                true,
	"metadata":                 true,
	"metadata.tencentyun.com":  true,
	"metadata.google.internal": true,
	"instance-data":            true,
}

// forbiddenSuffixes are name suffixes that only ever resolve inside a private network.
var forbiddenSuffixes = []string{".localhost", ".internal", ".local", ".intranet", ".lan", ".home.arpa"}

// checkName reports why host (lower case, no trailing dot) is refused by name, or "".
func checkName(host string) string {
	if forbiddenNames[host] {
		return "a local or metadata host name"
	}
	for _, s := range forbiddenSuffixes {
		if strings.HasSuffix(host, s) {
			return "a local or metadata host name"
		}
	}
	return ""
}
