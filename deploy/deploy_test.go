// Package deploy holds the deployment files (the systemd unit here; the
// Dockerfile and compose.yaml at the root) and their tests, in a package of
// their own so that the Dockerfile's build (a full build with -trimpath,
// which shares no cache with the other tests' builds) has its own test
// timeout.
package deploy_test

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/godwit/godwit/internal/godwittest"
)

// The container image itself is not built here: these machines have no
// container runtime that can run (no daemon for docker; podman's runtime
// cannot set up cgroups in this sandbox) and no access to the image
// registries the Dockerfile starts from. Instead these tests take the
// Dockerfile apart and run what it would run: its go build line, exactly as
// written, and the binary with the image's environment, command and health
// check.

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ENV, ...
	args string
}

func readDockerfile(t *testing.T) []instruction {
	t.Helper()
	b, err := os.ReadFile("../Dockerfile")
	require.NoError(t, err)
	var out []instruction
	var cur strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		out = append(out, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	require.Zero(t, cur.Len(), "the Dockerfile ends in a continuation line")
	return out
}

// dockerImage is what the tests need of the Dockerfile: its stages' base
// images, the build line, and the final stage's settings.
type dockerImage struct {
	from        []string
	buildArgs   map[string]string // ARG defaults
	buildRun    string            // the RUN line with go build
	binaryCopy  string            // the source of the final stage's COPY --from=build of the binary
	env         map[string]string // the final stage's ENV
	user        string
	volumes     []string
	entrypoint  []string
	cmd         []string
	healthcheck []string
}

func parseDockerfile(t *testing.T) dockerImage {
	t.Helper()
	img := dockerImage{buildArgs: map[string]string{}, env: map[string]string{}}
	final := false
	for _, in := range readDockerfile(t) {
		switch in.cmd {
		case "FROM":
			img.from = append(img.from, strings.Fields(in.args)[0])
			final = !strings.Contains(in.args, " AS ")
		case "ARG":
			name, def, _ := strings.Cut(in.args, "=")
			img.buildArgs[name] = def
		case "RUN":
			if strings.Contains(in.args, "go build") {
				require.Empty(t, img.buildRun, "one go build line")
				img.buildRun = in.args
			}
		case "COPY":
			if final && strings.HasPrefix(in.args, "--from=build ") {
				f := strings.Fields(in.args)
				if f[len(f)-1] == "/godwit" {
					img.binaryCopy = f[len(f)-2]
				}
			}
		case "ENV":
			require.True(t, final, "ENV in the final stage only")
			for _, kv := range strings.Fields(in.args) {
				k, v, ok := strings.Cut(kv, "=")
				require.True(t, ok, "ENV %s: name=value pairs", in.args)
				img.env[k] = v
			}
		case "USER":
			img.user = in.args
		case "VOLUME":
			img.volumes = append(img.volumes, strings.Fields(in.args)...)
		case "ENTRYPOINT":
			require.NoError(t, json.Unmarshal([]byte(in.args), &img.entrypoint), "ENTRYPOINT in exec form")
		case "CMD":
			require.NoError(t, json.Unmarshal([]byte(in.args), &img.cmd), "CMD in exec form")
		case "HEALTHCHECK":
			_, exe, ok := strings.Cut(in.args, " CMD ")
			require.True(t, ok, "HEALTHCHECK ... CMD [...]")
			require.NoError(t, json.Unmarshal([]byte(exe), &img.healthcheck), "HEALTHCHECK CMD in exec form")
		}
	}
	return img
}

var goDirective = regexp.MustCompile(`(?m)^go (\S+)$`)

const release = "v9.8.7-dockerfile-test"

var (
	buildOnce sync.Once
	built     string // the binary the Dockerfile's build line made
	buildErr  error
)

// dockerfileBinary runs the Dockerfile's go build line as written, only its
// output path moved into a temporary directory, with the VERSION build
// argument set to release, once for all the tests.
func dockerfileBinary(t *testing.T) string {
	t.Helper()
	img := parseDockerfile(t)
	buildOnce.Do(func() {
		out := regexp.MustCompile(`-o (\S+)`).FindStringSubmatch(img.buildRun)
		if out == nil {
			buildErr = fmt.Errorf("the build line names no output with -o: %s", img.buildRun)
			return
		}
		dir, err := os.MkdirTemp("", "godwit-dockerfile")
		if err != nil {
			buildErr = err
			return
		}
		bin := filepath.Join(dir, "godwit")
		line := strings.Replace(img.buildRun, "-o "+out[1], "-o "+bin, 1)
		build := exec.Command("sh", "-c", line)
		build.Dir = ".." // the build context, the checkout's root
		// As in the image build: the build arguments are in the environment,
		// and the context has no .git (.dockerignore), so no VCS stamp.
		build.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
		for k, v := range img.buildArgs {
			build.Env = append(build.Env, k+"="+v)
		}
		build.Env = append(build.Env, "VERSION="+release)
		if msg, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("%s: %v\n%s", line, err, msg)
			return
		}
		built = bin
	})
	require.NoError(t, buildErr)
	return built
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built != "" {
		os.RemoveAll(filepath.Dir(built))
	}
	os.Exit(code)
}

// TestDockerfileBuild checks the Dockerfile's build: its Go is go.mod's,
// the binary it makes is static and stripped and names the VERSION build
// argument, and the image's environment, command and health check make a
// server that passes its health check.
func TestDockerfileBuild(t *testing.T) {
	img := parseDockerfile(t)

	gomod, err := os.ReadFile("../go.mod")
	require.NoError(t, err)
	goVersion := goDirective.FindSubmatch(gomod)
	require.NotNil(t, goVersion, "go.mod has a go line")
	require.Len(t, img.from, 2, "two stages: build and final")
	require.True(t, strings.HasPrefix(img.from[0], "golang:"+string(goVersion[1])+"-") || img.from[0] == "golang:"+string(goVersion[1]),
		"the build stage's Go (%s) is go.mod's (%s)", img.from[0], goVersion[1])

	require.Contains(t, img.buildRun, "CGO_ENABLED=0")
	require.Contains(t, img.buildRun, "-trimpath")
	out := regexp.MustCompile(`-o (\S+)`).FindStringSubmatch(img.buildRun)
	require.NotNil(t, out, "the build line names its output with -o")
	require.Equal(t, out[1], img.binaryCopy, "the final stage copies what the build stage built")
	require.Equal(t, []string{"/godwit"}, img.entrypoint)
	require.Equal(t, "/godwit", img.healthcheck[0], "the health check runs the binary (no curl in the image)")

	bin := dockerfileBinary(t)
	dir := t.TempDir()
	f, err := elf.Open(bin)
	require.NoError(t, err)
	for _, p := range f.Progs {
		require.NotEqual(t, elf.PT_INTERP, p.Type, "a static binary has no program interpreter")
	}
	libs, err := f.ImportedLibraries()
	require.NoError(t, err)
	require.Empty(t, libs, "no shared libraries")
	require.Nil(t, f.Section(".symtab"), "-s: no symbol table")
	require.Nil(t, f.Section(".debug_info"), "-w: no DWARF")
	require.NoError(t, f.Close())

	version, err := exec.Command(bin, "version").Output()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(version), "godwit "+release+" "), "godwit version: %q", version)

	// The image's configuration: ENV, then ENTRYPOINT + CMD, is valid; and
	// every GODWIT_* variable names a setting (a typo would be ignored).
	require.Contains(t, img.volumes, img.env["GODWIT_DATA_DIR"], "the data directory is the volume")
	require.NotEmpty(t, img.user)
	require.NotEqual(t, "root", img.user)
	require.False(t, strings.HasPrefix(img.user, "0"), "USER is not root")
	requireSettings(t, bin, img.env)
	data := filepath.Join(dir, "data")
	require.NoError(t, os.Mkdir(data, 0o700))
	require.Equal(t, []string{"serve"}, img.cmd[:1])
	// The image listens on every interface, so it needs this server's
	// fully qualified name (docker run -e GODWIT_MX_HOST=…): without it,
	// start-up is refused in one sentence.
	check := exec.Command(bin, append([]string{"check-config"}, img.cmd[1:]...)...)
	check.Env = imageEnv(img.env, "GODWIT_DATA_DIR="+data, "GODWIT_MX_HOST=")
	msg, err := check.CombinedOutput()
	require.Error(t, err, "%s", msg)
	require.Contains(t, string(msg), "not a fully qualified domain name, and every domain would publish it in its MX and SPF records: give --mx-host")
	env := imageEnv(img.env, "GODWIT_DATA_DIR="+data, "GODWIT_MX_HOST=mail.example.com")
	check = exec.Command(bin, append([]string{"check-config"}, img.cmd[1:]...)...)
	check.Env = env
	msg, err = check.CombinedOutput()
	require.NoError(t, err, "%s", msg)
	require.Contains(t, string(msg), "configuration OK")

	// Serve as the image does (on a free port instead of 8080) and run its
	// HEALTHCHECK: failing before the server is up, passing once it is.
	port := freePort(t)
	env = imageEnv(img.env, "GODWIT_DATA_DIR="+data, "GODWIT_MX_HOST=mail.example.com", "GODWIT_HTTP_ADDR="+strings.Replace(img.env["GODWIT_HTTP_ADDR"], ":8080", fmt.Sprintf(":%d", port), 1))
	health := func() (string, error) {
		c := exec.Command(bin, img.healthcheck[1:]...)
		c.Env = env
		b, err := c.CombinedOutput()
		return string(b), err
	}
	hc, err := health()
	require.Error(t, err, "no server yet: %s", hc)
	require.Contains(t, hc, "connection refused")
	require.Equal(t, 1, strings.Count(strings.TrimSpace(hc), "\n")+1, "one line: %q", hc)

	srv := exec.Command(bin, img.cmd...)
	srv.Env = env
	var logs godwittest.LogBuffer // written by the process's copiers while the test reads it
	srv.Stdout, srv.Stderr = &logs, &logs
	require.NoError(t, srv.Start())
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	t.Cleanup(func() {
		_ = srv.Process.Kill()
		<-done
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("serve exited: %v\n%s", err, logs.String())
		default:
		}
		out, err := health()
		if err == nil && strings.Contains(out, "ready") {
			break
		}
		require.True(t, time.Now().Before(deadline), "the image's HEALTHCHECK did not pass within 30 s: %s\n%s", out, logs.String())
		time.Sleep(50 * time.Millisecond)
	}
}

// imageEnv is the image's environment, with overrides, for a process run
// as the container would run it (plus PATH and HOME from this one).
func imageEnv(image map[string]string, overrides ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range image {
		env = append(env, k+"="+v)
	}
	return append(env, overrides...) // later entries win
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

var flagNameRE = regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`)

// requireSettings fails if a GODWIT_* variable of env is no setting of
// godwit serve.
func requireSettings(t *testing.T, bin string, env map[string]string) {
	t.Helper()
	help, _ := exec.Command(bin, "serve", "-h").CombinedOutput()
	known := map[string]bool{}
	for _, m := range flagNameRE.FindAllStringSubmatch(string(help), -1) {
		name := "GODWIT_" + strings.ToUpper(strings.ReplaceAll(m[1], "-", "_"))
		known[name], known[name+"_FILE"] = true, true
	}
	require.True(t, known["GODWIT_DATA_DIR"], "serve -h lists the flags:\n%s", help)
	for k := range env {
		if strings.HasPrefix(k, "GODWIT_") {
			require.True(t, known[k], "%s is not a setting of godwit serve", k)
		}
	}
}

// TestComposeFile checks compose.yaml against what Godwit and the
// PostgreSQL image need, and runs check-config with Godwit's environment
// there (on top of the image's).
func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile("../compose.yaml")
	require.NoError(t, err)
	var c struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Build       string            `yaml:"build"`
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
			Ports       []string          `yaml:"ports"`
			DependsOn   map[string]struct {
				Condition string `yaml:"condition"`
			} `yaml:"depends_on"`
			Healthcheck struct {
				Test []string `yaml:"test"`
			} `yaml:"healthcheck"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	require.NoError(t, yaml.Unmarshal(b, &c))
	pg, ok := c.Services["postgres"]
	require.True(t, ok, "a postgres service")
	require.Equal(t, "postgres:17", pg.Image)
	require.NotEmpty(t, pg.Healthcheck.Test, "PostgreSQL has a health check")
	require.Contains(t, strings.Join(pg.Healthcheck.Test, " "), "pg_isready")
	g, ok := c.Services["godwit"]
	require.True(t, ok, "a godwit service")
	require.Equal(t, ".", g.Build, "built from this Dockerfile")
	require.Equal(t, "service_healthy", g.DependsOn["postgres"].Condition, "Godwit starts once PostgreSQL is ready")

	img := parseDockerfile(t)
	dataVolume := ""
	for _, v := range g.Volumes {
		if name, path, _ := strings.Cut(v, ":"); path == img.env["GODWIT_DATA_DIR"] {
			dataVolume = name
		}
	}
	require.NotEmpty(t, dataVolume, "the data directory (secret.key) is a volume")
	require.Contains(t, c.Volumes, dataVolume, "a named volume")
	for _, v := range pg.Volumes {
		name, path, _ := strings.Cut(v, ":")
		require.Equal(t, "/var/lib/postgresql/data", path)
		require.Contains(t, c.Volumes, name)
	}
	for _, p := range g.Ports {
		if strings.HasSuffix(p, ":8080") {
			require.True(t, strings.HasPrefix(p, "127.0.0.1:"), "plain HTTP is published on loopback only (a proxy in front): %s", p)
		}
	}

	// Compose's interpolation, for the variables the file uses.
	vars := map[string]string{"POSTGRES_PASSWORD": "s3cret", "GODWIT_MX_HOST": "mail.example.com"}
	require.Contains(t, g.Environment["GODWIT_MX_HOST"], "${GODWIT_MX_HOST:?", "compose refuses to start without the server's name")
	interp := regexp.MustCompile(`\$\{([A-Z_]+)(?::([-?])([^}]*))?\}`)
	expand := func(s string) string {
		return interp.ReplaceAllStringFunc(s, func(m string) string {
			p := interp.FindStringSubmatch(m)
			if v, ok := vars[p[1]]; ok && v != "" {
				return v
			}
			require.NotEqual(t, "?", p[2], "%s is required", p[1])
			return p[3]
		})
	}
	env := map[string]string{}
	for k, v := range g.Environment {
		if v = expand(v); v != "" { // compose passes an empty value; Godwit reads it as unset
			env[k] = v
		}
	}
	want := fmt.Sprintf("postgres://%s:s3cret@postgres:5432/%s?sslmode=disable", pg.Environment["POSTGRES_USER"], pg.Environment["POSTGRES_DB"])
	require.Equal(t, want, env["GODWIT_DATABASE_URL"], "Godwit uses the database and user the postgres service creates")

	bin := dockerfileBinary(t)
	requireSettings(t, bin, env)
	var all []string
	for k, v := range img.env {
		all = append(all, k+"="+v)
	}
	for k, v := range env {
		all = append(all, k+"="+v)
	}
	all = append(all, "GODWIT_DATA_DIR="+t.TempDir())
	check := exec.Command(bin, append([]string{"check-config"}, img.cmd[1:]...)...)
	check.Env = imageEnv(nil, all...)
	out, err := check.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "configuration OK")
	require.Contains(t, string(out), "PostgreSQL postgres://godwit:xxxxx@postgres:5432/godwit")
	require.NotContains(t, string(out), "s3cret", "the summary hides the password")
}

var hardening = []string{
	"DynamicUser=yes",
	"StateDirectory=godwit",
	"Environment=GODWIT_DATA_DIR=/var/lib/godwit",
	"AmbientCapabilities=CAP_NET_BIND_SERVICE",
	"CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
	"ProtectSystem=strict",
	"ProtectHome=yes",
	"PrivateTmp=yes",
	"NoNewPrivileges=yes",
	"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
	"SystemCallFilter=@system-service",
	"Restart=on-failure",
	"LimitNOFILE=65536",
	"ExecStart=/usr/local/bin/godwit serve --config /etc/godwit/godwit.conf",
}

// TestSystemdUnit checks deploy/godwit.service: its hardening settings are
// there, and systemd-analyze verify (with ExecStart pointing at the test
// binary, which must exist) finds nothing to say about it. systemd-analyze
// is installed by .ci/run; elsewhere the verification skips without it.
func TestSystemdUnit(t *testing.T) {
	b, err := os.ReadFile("../deploy/godwit.service")
	require.NoError(t, err)
	unit := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "[") {
			unit[line] = true
		}
	}
	for _, want := range hardening {
		require.True(t, unit[want], "the unit has %s", want)
	}

	binary := dockerfileBinary(t)
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("systemd-analyze is missing (apt-get install systemd); .ci/run installs it")
		}
		t.Skip("systemd-analyze is not installed: the unit is not verified")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "godwit.service")
	require.NoError(t, os.WriteFile(file, bytes.ReplaceAll(b, []byte("/usr/local/bin/godwit"), []byte(binary)), 0o644))
	out, err := exec.Command(analyze, "verify", file).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Empty(t, strings.TrimSpace(string(out)), "systemd-analyze verify has warnings")

	// The check itself can fail: a misspelt key is reported.
	require.NoError(t, os.WriteFile(file, bytes.Replace(bytes.ReplaceAll(b, []byte("/usr/local/bin/godwit"), []byte(binary)), []byte("ProtectHome=yes"), []byte("ProtectHome=yess"), 1), 0o644))
	out, _ = exec.Command(analyze, "verify", file).CombinedOutput()
	require.Contains(t, string(out), "yess", "verify reports a bad value")
}
