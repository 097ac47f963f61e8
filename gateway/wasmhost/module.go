package wasmhost

import "github.com/sluice-mail/sluice/gateway/internal/boundedfile"

// MaxModuleSize caps a plugin module (sdk/ABI.md §7). Real plugins are far
// smaller (a Go plugin is about 3.4 MB); the cap keeps a policy that names
// a device, or a huge file, from making the gateway read without end.
const MaxModuleSize = 64 << 20

// ReadModule reads a plugin module from path: a regular file of at most
// MaxModuleSize bytes, checked before it is read. `sluice check`, start-up,
// reloads and their change detection all read modules through it.
func ReadModule(path string) ([]byte, error) {
	return boundedfile.Read(path, MaxModuleSize)
}
