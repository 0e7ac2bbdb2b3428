package orders

import (
	"testing"
	"unicode/utf8"
)

// FuzzDecodeOrder reads an arbitrary answer of the order lookup service:
// either an error or an order, whose validated form keeps to the schema.
func FuzzDecodeOrder(f *testing.F) {
	f.Add(`{"id":"1001","status":"shipped","total":249.9,"currency":"BRL","tracking_url":"https://t.example/1","items":[{"name":"Tênis","qty":1}]}`)
	f.Add(`{"order":{"id":"#1001","status":"delivered"}}`)
	f.Add(`{"order":null,"id":"x"}`)
	f.Add(`{"id":"1","total":-1}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, body string) {
		o, err := decode([]byte(body))
		if err != nil {
			return
		}
		jo, err := o.ToJourney("order")
		if err != nil {
			return
		}
		if jo.ID == "" || jo.Total < 0 || !utf8.ValidString(jo.ID) {
			t.Fatalf("accepted order %+v from %q", jo, body)
		}
	})
}
