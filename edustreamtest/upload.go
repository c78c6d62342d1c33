package edustreamtest

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/edustream/edustream"
)

// PutParts PUTs data to the upload's part URLs, each part the upload's
// PartSize of it, as a browser would, and returns the parts with the ETags
// the store answered, ready for Uploads.Complete. It fails the test on any
// answer but 200.
func PutParts(t testing.TB, up *edustream.Upload, data []byte) []edustream.UploadPart {
	t.Helper()
	size := int64(len(data))
	var parts []edustream.UploadPart
	for i, url := range up.PartURLs {
		chunk := data[min(int64(i)*up.PartSize, size):min(int64(i+1)*up.PartSize, size)]
		req, _ := http.NewRequest(http.MethodPut, url, bytes.NewReader(chunk))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PUT part %d: %s", i+1, resp.Status)
		}
		parts = append(parts, edustream.UploadPart{PartNumber: i + 1, ETag: resp.Header.Get("ETag")})
	}
	return parts
}
