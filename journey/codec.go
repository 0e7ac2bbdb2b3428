package journey

import (
	"bytes"
	"encoding/json"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// The journey document is MessagePack, keyed by the struct's short json tag
// names (omitempty honoured), so a field added to Journey is stored without
// code of its own: about a third smaller than the JSON it replaced and
// cheaper to encode and decode on every message. Documents written as JSON
// by earlier versions (they start with '{'; MessagePack maps never do) are
// still read, and rewritten compact on their next commit. Unknown fields
// are skipped, so an older process reads a newer document.

var bufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// encodeJourney returns j's stored form.
func encodeJourney(j *Journey) ([]byte, error) {
	buf := bufs.Get().(*bytes.Buffer)
	defer bufs.Put(buf)
	buf.Reset()
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(buf)
	enc.SetCustomStructTag("json")
	enc.UseCompactInts(true)
	enc.UseCompactFloats(true)
	if err := enc.Encode(j); err != nil {
		return nil, err
	}
	return bytes.Clone(buf.Bytes()), nil
}

// decodeDoc reads a stored journey document into j.
func decodeDoc(data []byte, j *Journey) error {
	if len(data) > 0 && data[0] == '{' {
		return json.Unmarshal(data, j)
	}
	dec := msgpack.GetDecoder()
	defer msgpack.PutDecoder(dec)
	dec.Reset(bytes.NewReader(data))
	dec.SetCustomStructTag("json")
	return dec.Decode(j)
}
