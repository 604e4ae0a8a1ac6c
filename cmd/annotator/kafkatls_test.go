package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/twmb/franz-go/pkg/kfake"
)

// tlsServerName is the DNS name in the test broker's certificate besides
// 127.0.0.1.
const tlsServerName = "kafka.annotator.test"

// testPKI is a CA made for one test, and files of its certificates.
type testPKI struct {
	dir    string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caPool *x509.CertPool
	caFile string
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "annotator test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{dir: t.TempDir(), ca: ca, caKey: key, caPool: x509.NewCertPool()}
	p.caPool.AddCert(ca)
	p.caFile = p.write(t, "ca.pem", "CERTIFICATE", der)
	return p
}

func (p *testPKI) write(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// issue signs a leaf certificate and writes it and its key as name.pem and
// name-key.pem.
func (p *testPKI) issue(t *testing.T, name string, serial int64, usage x509.ExtKeyUsage) (tls.Certificate, string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	if usage == x509.ExtKeyUsageServerAuth {
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{tlsServerName}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile := p.write(t, name+".pem", "CERTIFICATE", der)
	keyFile := p.write(t, name+"-key.pem", "EC PRIVATE KEY", keyDER)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return cert, certFile, keyFile
}

// startTLSBroker starts a kfake cluster on a loopback port that speaks only
// TLS, with the topic seeded. It never uses ANNOTATOR_KAFKA_BROKERS: the
// point is a broker whose certificate the test controls.
func startTLSBroker(t *testing.T, cfg *tls.Config, topic string) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(cfg), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatalf("start kfake with TLS: %v", err)
	}
	t.Cleanup(c.Close)
	return strings.Join(c.ListenAddrs(), ",")
}

// readTLS reads partition 0 of topic over TLS from the start until want
// messages were read or the timeout passed, and returns their values.
func readTLS(t *testing.T, brokers string, cfg *tls.Config, topic string, want int, timeout time.Duration) []string {
	t.Helper()
	tr := &kafkago.Transport{TLS: cfg, DialTimeout: 5 * time.Second, MetadataTTL: time.Second}
	defer tr.CloseIdleConnections()
	c := &kafkago.Client{Addr: kafkago.TCP(strings.Split(brokers, ",")...), Transport: tr, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []string
	var next int64
	var lastErr error
	for len(out) < want && ctx.Err() == nil {
		resp, err := c.Fetch(ctx, &kafkago.FetchRequest{
			Topic: topic, Partition: 0, Offset: next,
			MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond,
		})
		if err == nil {
			err = resp.Error
		}
		if err != nil {
			lastErr = err
			time.Sleep(50 * time.Millisecond) // the deadline ends the loop
			continue
		}
		for {
			r, err := resp.Records.ReadRecord()
			if err != nil {
				break
			}
			if r.Offset < next {
				continue
			}
			v, err := readRecordBytes(r.Value)
			if err != nil {
				t.Fatalf("read record value: %v", err)
			}
			out = append(out, string(v))
			next = r.Offset + 1
		}
	}
	if len(out) < want {
		t.Logf("read %d of %d messages from %s over TLS (last error: %v)", len(out), want, topic, lastErr)
	}
	return out
}

func readRecordBytes(b protocol.Bytes) ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	defer b.Close()
	return protocol.ReadAll(b)
}

// TestKafkaTLSOutput runs the binary against a broker that speaks only TLS
// with a certificate from a CA made here: trusted through --kafka-tls-ca
// the message arrives annotated; without it the system roots refuse the
// certificate and the run fails naming it.
func TestKafkaTLSOutput(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	pki := newTestPKI(t)
	serverCert, _, _ := pki.issue(t, "broker", 2, x509.ExtKeyUsageServerAuth)
	const topic = "tls-out"
	brokers := startTLSBroker(t, &tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12}, topic)
	readCfg := &tls.Config{RootCAs: pki.caPool, MinVersion: tls.VersionTLS12}

	r := runBin(t, strings.NewReader("a 898001\n"),
		"--kafka-brokers", brokers, "--kafka-out-topic", topic, "--kafka-tls-ca", pki.caFile,
		"--kafka-connect-timeout", "10s")
	if r.code != 0 {
		t.Fatalf("with --kafka-tls-ca: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	got := readTLS(t, brokers, readCfg, topic, 1, 10*time.Second)
	if want := "a 898001" + note898001; len(got) != 1 || got[0] != want {
		t.Fatalf("topic %s holds %q, want [%q]", topic, got, want)
	}

	// The certificate also verifies against its DNS name when
	// --kafka-tls-server-name names it, and not against another.
	r = runBin(t, strings.NewReader("b 898001\n"),
		"--kafka-brokers", brokers, "--kafka-out-topic", topic, "--kafka-tls-ca", pki.caFile,
		"--kafka-tls-server-name", tlsServerName, "--kafka-connect-timeout", "10s")
	if r.code != 0 {
		t.Fatalf("with --kafka-tls-server-name %s: exit %d, stderr:\n%s", tlsServerName, r.code, r.stderr)
	}
	got = readTLS(t, brokers, readCfg, topic, 2, 10*time.Second)
	if want := "b 898001" + note898001; len(got) != 2 || got[1] != want {
		t.Fatalf("topic %s holds %q, want a second message %q", topic, got, want)
	}

	failures := []struct {
		name string
		args []string
	}{
		{"system roots", []string{"--kafka-tls"}},
		{"wrong server name", []string{"--kafka-tls-ca", pki.caFile, "--kafka-tls-server-name", "other.annotator.test"}},
	}
	for _, f := range failures {
		start := time.Now()
		args := append([]string{"--kafka-brokers", brokers, "--kafka-out-topic", topic, "--kafka-connect-timeout", "3s"}, f.args...)
		r := runBin(t, strings.NewReader("c 898001\n"), args...)
		took := time.Since(start)
		if r.code == 0 {
			t.Fatalf("%s: exit 0, want a failure; stderr:\n%s", f.name, r.stderr)
		}
		if !strings.Contains(string(r.stderr), "presented a TLS certificate this side does not trust") {
			t.Errorf("%s: stderr does not say the broker's certificate is not trusted:\n%s", f.name, r.stderr)
		}
		if took > 10*time.Second {
			t.Errorf("%s: took %s to fail with --kafka-connect-timeout 3s", f.name, took)
		}
		t.Logf("%s: exit %d in %s: %s", f.name, r.code, took.Round(time.Millisecond), strings.TrimSpace(string(r.stderr)))
	}
	// Nothing more arrived from the failed runs.
	if got := readTLS(t, brokers, readCfg, topic, 3, 2*time.Second); len(got) != 2 {
		t.Fatalf("topic %s holds %q after the failed runs, want 2 messages", topic, got)
	}
}

// TestKafkaTLSClientCert runs the binary against a broker that requires a
// client certificate signed by the test CA: with --kafka-tls-cert and
// --kafka-tls-key the message arrives; without them the run fails.
func TestKafkaTLSClientCert(t *testing.T) {
	t.Parallel() // waits more than it works: see TestMain
	pki := newTestPKI(t)
	serverCert, _, _ := pki.issue(t, "broker", 2, x509.ExtKeyUsageServerAuth)
	clientCert, certFile, keyFile := pki.issue(t, "client", 3, x509.ExtKeyUsageClientAuth)
	const topic = "tls-mutual-out"
	brokers := startTLSBroker(t, &tls.Config{
		Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12,
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pki.caPool,
	}, topic)
	readCfg := &tls.Config{RootCAs: pki.caPool, Certificates: []tls.Certificate{clientCert}, MinVersion: tls.VersionTLS12}

	r := runBin(t, strings.NewReader("a 898001\n"),
		"--kafka-brokers", brokers, "--kafka-out-topic", topic, "--kafka-tls-ca", pki.caFile,
		"--kafka-tls-cert", certFile, "--kafka-tls-key", keyFile, "--kafka-connect-timeout", "10s")
	if r.code != 0 {
		t.Fatalf("with a client certificate: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	got := readTLS(t, brokers, readCfg, topic, 1, 10*time.Second)
	if want := "a 898001" + note898001; len(got) != 1 || got[0] != want {
		t.Fatalf("topic %s holds %q, want [%q]", topic, got, want)
	}

	// A refusal by the broker is final: it ends the run at once, well
	// before the connect timeout, and says the credentials were refused.
	start := time.Now()
	r = runBin(t, strings.NewReader("b 898001\n"),
		"--kafka-brokers", brokers, "--kafka-out-topic", topic, "--kafka-tls-ca", pki.caFile,
		"--kafka-connect-timeout", "60s")
	took := time.Since(start)
	if r.code == 0 {
		t.Fatalf("without a client certificate: exit 0, want a failure; stderr:\n%s", r.stderr)
	}
	if !strings.Contains(string(r.stderr), "refused the credentials") || !strings.Contains(string(r.stderr), "certificate") {
		t.Errorf("without a client certificate: stderr does not say the certificate was refused:\n%s", r.stderr)
	}
	if took > 30*time.Second {
		t.Errorf("without a client certificate: took %s to fail, as if retrying a refusal until the connect timeout", took)
	}
	t.Logf("without a client certificate: exit %d in %s: %s", r.code, took.Round(time.Millisecond), strings.TrimSpace(string(r.stderr)))
	if got := readTLS(t, brokers, readCfg, topic, 2, 2*time.Second); len(got) != 1 {
		t.Fatalf("topic %s holds %q after the failed run, want 1 message", topic, got)
	}
}
