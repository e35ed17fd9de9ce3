package e2e

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
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
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

// TestDockerfileBuild runs the Dockerfile's go build line as written (only
// its output path moved into a temporary directory) and checks that the
// binary is static, stripped, names the VERSION build argument, and that
// the image's environment and command make a valid server configuration.
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

	dir := t.TempDir()
	bin := filepath.Join(dir, "godwit")
	line := strings.Replace(img.buildRun, "-o "+out[1], "-o "+bin, 1)
	build := exec.Command("sh", "-c", line)
	build.Dir = ".." // the build context, the checkout's root
	// As in the image build: the build arguments are in the environment, and
	// the context has no .git (.dockerignore), so no VCS stamp.
	build.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	for k, v := range img.buildArgs {
		build.Env = append(build.Env, k+"="+v)
	}
	const release = "v9.8.7-dockerfile-test"
	build.Env = append(build.Env, "VERSION="+release)
	msg, err := build.CombinedOutput()
	require.NoError(t, err, "%s\n%s", line, msg)

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
	env := imageEnv(img.env, "GODWIT_DATA_DIR="+data)
	require.Equal(t, []string{"serve"}, img.cmd[:1])
	check := exec.Command(bin, append([]string{"check-config"}, img.cmd[1:]...)...)
	check.Env = env
	msg, err = check.CombinedOutput()
	require.NoError(t, err, "%s", msg)
	require.Contains(t, string(msg), "configuration OK")

	// Serve as the image does (on a free port instead of 8080) and run its
	// HEALTHCHECK: failing before the server is up, passing once it is.
	port := freePort(t)
	env = imageEnv(img.env, "GODWIT_DATA_DIR="+data, "GODWIT_HTTP_ADDR="+strings.Replace(img.env["GODWIT_HTTP_ADDR"], ":8080", fmt.Sprintf(":%d", port), 1))
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
	var logs bytes.Buffer
	srv.Stdout, srv.Stderr = &logs, &logs
	require.NoError(t, srv.Start())
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	t.Cleanup(func() {
		_ = srv.Process.Kill()
		<-done
	})
	waitWithin(t, 30*time.Second, "the image's HEALTHCHECK to pass", func() bool {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("serve exited: %v\n%s", err, logs.String())
		default:
		}
		out, err := health()
		return err == nil && strings.Contains(out, "ready")
	})
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
	vars := map[string]string{"POSTGRES_PASSWORD": "s3cret"}
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

	bin := filepath.Join(filepath.Dir(binary), "godwit")
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

// TestCheckConfig validates configuration files through the real binary
// without starting anything: a good file passes with a summary and leaves
// no trace (no data directory, database or key; a port in use is no
// error), a bad one fails with one sentence and exit status 1.
func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	good := filepath.Join(dir, "good.conf")
	require.NoError(t, os.WriteFile(good, []byte(fmt.Sprintf(`# a server behind a proxy
data-dir = %s
http-addr = %s
insecure-http = true
database-url = "postgres://godwit:pw@db.internal:5432/godwit"
public-url = https://mail.example.com
smtp-addr = 127.0.0.1:2587
`, data, busy.Addr())), 0o644))
	out, stderr, err := run(t, "check-config", "--config", good)
	require.NoError(t, err, stderr)
	require.Empty(t, stderr)
	for _, want := range []string{
		"configuration OK",
		"API            http://" + busy.Addr().String(),
		"TLS            none: plain HTTP (--insecure-http)",
		"database       PostgreSQL postgres://godwit:xxxxx@db.internal:5432/godwit",
		"data dir       " + data,
		"SMTP           127.0.0.1:2587",
	} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out, ":pw@", "the summary hides the password")
	_, err = os.Stat(data)
	require.ErrorIs(t, err, os.ErrNotExist, "check-config creates nothing")

	// Flags and the environment override the file, as for serve.
	out, stderr, err = run(t, "check-config", "--config", good, "--database-url", filepath.Join(dir, "godwit.db"))
	require.NoError(t, err, stderr)
	require.Contains(t, out, "database       SQLite "+filepath.Join(dir, "godwit.db"))
	_, err = os.Stat(filepath.Join(dir, "godwit.db"))
	require.ErrorIs(t, err, os.ErrNotExist, "check-config opens no database")

	certFile, keyFile, _ := selfSigned(t, dir)
	bad := map[string]struct{ file, want string }{
		"unknown setting":    {"data-dir = " + data + "\nrate-limt = 5\n", `unknown setting "rate-limt"`},
		"public plain HTTP":  {"data-dir = " + data + "\nhttp-addr = 0.0.0.0:8080\n", `--http-addr "0.0.0.0:8080" is not a loopback address`},
		"database scheme":    {"database-url = mysql://u@h/db\n", `--database-url scheme "mysql" is not supported`},
		"missing SQLite dir": {"database-url = " + filepath.Join(dir, "nope", "godwit.db") + "\n", "the directory " + filepath.Join(dir, "nope") + " of the SQLite file does not exist"},
		"mismatched TLS":     {"tls-cert = " + certFile + "\ntls-key = " + certFile + "\n", "--tls-cert/--tls-key cannot be used"},
		"secret key":         {"secret-key = not-a-key\n", "--secret-key: "},
		"relay":              {"delivery = relay\n", "--delivery relay needs --relay-url"},
	}
	for name, c := range bad {
		file := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".conf")
		require.NoError(t, os.WriteFile(file, []byte(c.file), 0o644))
		cmd := exec.Command(binary, "check-config", "--config", file)
		var outb, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &outb, &errb
		err := cmd.Run()
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, name)
		require.Equal(t, 1, exit.ExitCode(), name)
		require.Empty(t, outb.String(), name)
		msg := strings.TrimSpace(errb.String())
		require.True(t, strings.HasPrefix(msg, "godwit check-config: "), "%s: %q", name, msg)
		require.Contains(t, msg, c.want, name)
		require.NotContains(t, msg, "\n", "%s: one line: %q", name, msg)
	}
	// The good pair passes.
	pair := filepath.Join(dir, "tls.conf")
	require.NoError(t, os.WriteFile(pair, []byte("data-dir = "+data+"\nhttp-addr = :8443\ntls-cert = "+certFile+"\ntls-key = "+keyFile+"\n"), 0o644))
	out, stderr, err = run(t, "check-config", "--config", pair)
	require.NoError(t, err, stderr)
	require.Contains(t, out, "API            https://:8443")
	require.Contains(t, out, "TLS            certificate "+certFile)
}

// TestHealthcheck: exit 0 while /readyz answers 200, 1 with one line
// otherwise; the default URL follows --http-addr, an unspecified host
// dialled on loopback.
func TestHealthcheck(t *testing.T) {
	s := start(t, "--data-dir", t.TempDir())
	out, stderr, err := run(t, "healthcheck", "--url", s.url+"/readyz")
	require.NoError(t, err, stderr)
	require.Contains(t, out, "ready")
	_, port, err := net.SplitHostPort(strings.TrimPrefix(s.url, "http://"))
	require.NoError(t, err)
	out, stderr, err = run(t, "healthcheck", "--http-addr", "0.0.0.0:"+port)
	require.NoError(t, err, stderr)
	require.Equal(t, "http://127.0.0.1:"+port+"/readyz: ready\n", out)

	_, stderr, err = run(t, "healthcheck", "--url", s.url+"/nothing-here")
	require.Error(t, err)
	require.Contains(t, stderr, "404")
	require.Equal(t, 1, strings.Count(strings.TrimSpace(stderr), "\n")+1, "one line: %q", stderr)

	s.stop(t)
	_, stderr, err = run(t, "healthcheck", "--url", s.url+"/readyz", "--timeout", "2s")
	require.Error(t, err)
	require.Contains(t, stderr, "connection refused")
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
