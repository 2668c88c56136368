// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package redistest // import "github.com/otelcol-jobs/otelcol-jobs/internal/redistest"

import (
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
	"strconv"
	"testing"
	"time"
)

// WithTLS makes the server speak TLS only (--port 0, --tls-port on its
// port), with a certificate for 127.0.0.1 signed by a throw-away CA whose
// file CAFile names. Clients need no certificate of their own. Client
// connects with TLS.
func WithTLS() Option {
	return func(s *Server) { s.tls = true }
}

// CAFile is the PEM file of the CA that signed a WithTLS server's
// certificate; empty for a plain server.
func (s *Server) CAFile() string { return s.caFile }

// tlsArgs writes the certificates on first use and returns the
// redis-server arguments that serve TLS only on the server's port.
func (s *Server) tlsArgs() []string {
	s.tb.Helper()
	if s.caFile == "" {
		s.caFile, s.certFile, s.keyFile = WriteCertificates(s.tb, s.dir)
	}
	return []string{
		"--port", "0", "--tls-port", strconv.Itoa(s.port),
		"--tls-cert-file", s.certFile, "--tls-key-file", s.keyFile, "--tls-ca-cert-file", s.caFile,
		"--tls-auth-clients", "no",
	}
}

// clientTLS is the TLS configuration that trusts the server's CA.
func (s *Server) clientTLS() *tls.Config {
	s.tb.Helper()
	pemCA, err := os.ReadFile(s.caFile)
	if err != nil {
		s.tb.Fatalf("read CA: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pemCA)
	return &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
}

// WriteCertificates writes a throw-away CA and a server certificate for
// 127.0.0.1 signed by it, and returns the three PEM files.
func WriteCertificates(tb testing.TB, dir string) (caFile, certFile, keyFile string) {
	tb.Helper()
	must := func(err error) {
		if err != nil {
			tb.Fatalf("test certificates: %v", err)
		}
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "redistest CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	must(err)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	server := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	serverDER, err := x509.CreateCertificate(rand.Reader, server, ca, &key.PublicKey, caKey)
	must(err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	must(err)

	write := func(name, blockType string, der []byte) string {
		p := filepath.Join(dir, name)
		must(os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), 0o600))
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", serverDER), write("server-key.pem", "EC PRIVATE KEY", keyDER)
}
