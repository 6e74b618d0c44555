package sim_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quantum-alpaca/quantum/sim"
)

// The initial deposit is the oldest activity: it takes its place in time
// order, and page_size and page_token work across it as across fills.
func TestActivitiesPagingWithDeposit(t *testing.T) {
	s, err := sim.New(sim.Config{AutoProvision: true, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer s.Close()
	h := s.Handler()
	do := func(method, path, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("APCA-API-KEY-ID", "PKACTIVITIES")
		r.Header.Set("APCA-API-SECRET-KEY", "secret")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	type activity struct {
		ID           string `json:"id"`
		ActivityType string `json:"activity_type"`
	}
	list := func(query string) []activity {
		t.Helper()
		w := do("GET", "/v2/account/activities?"+query, "")
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", query, w.Code, w.Body)
		}
		var out []activity
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for i := 0; i < 3; i++ {
		if w := do("POST", "/v2/orders", `{"symbol":"AAPL","qty":"1","side":"buy","type":"market","time_in_force":"day"}`); w.Code != http.StatusOK {
			t.Fatalf("order: %d %s", w.Code, w.Body)
		}
	}
	deadline := time.Now().Add(30 * time.Second) // a safety net only
	for len(list("activity_types=FILL")) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("fills after 30s: %+v", list("activity_types=FILL"))
		}
		time.Sleep(20 * time.Millisecond)
	}

	// date names a New York day, as YYYY-MM-DD or as a time in it.
	now := time.Now()
	day := now.In(newYork).Format(time.DateOnly)
	byDay, byTime := list("date="+day), list("date="+now.UTC().Format(time.RFC3339))
	if len(byDay) == 0 || len(byDay) != len(byTime) || byDay[0] != byTime[0] {
		t.Errorf("date=%s gave %v, date=%s %v: want the same day's activities", day, byDay, now.UTC().Format(time.RFC3339), byTime)
	}
	if w := do("GET", "/v2/account/activities?date=yesterday", ""); w.Code != http.StatusUnprocessableEntity {
		t.Errorf("date=yesterday: %d %s, want 422", w.Code, w.Body)
	}

	for _, dir := range []string{"asc", "desc"} {
		all := list("direction=" + dir)
		if len(all) < 4 {
			t.Fatalf("%s: %d activities, want 3+ fills and the deposit", dir, len(all))
		}
		dep := 0
		if dir == "desc" {
			dep = len(all) - 1
		}
		if all[dep].ActivityType != "CSD" {
			t.Errorf("%s: activity %d is %s, want the CSD deposit", dir, dep, all[dep].ActivityType)
		}
		for _, size := range []int{1, 2, 3} {
			var got []string
			token := ""
			for page := 0; page < 20; page++ {
				q := "direction=" + dir + "&page_size=" + strconv.Itoa(size)
				if token != "" {
					q += "&page_token=" + token
				}
				p := list(q)
				if len(p) > size {
					t.Fatalf("%s size %d: page of %d", dir, size, len(p))
				}
				for _, a := range p {
					got = append(got, a.ID)
				}
				if len(p) < size {
					break
				}
				token = p[len(p)-1].ID
			}
			var want []string
			for _, a := range all {
				want = append(want, a.ID)
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("%s size %d: pages\n%v\nwant\n%v", dir, size, got, want)
			}
		}
	}
	if fills := list("activity_types=FILL&direction=asc"); len(fills) == 0 || fills[0].ActivityType != "FILL" {
		t.Errorf("FILL filter: %+v", fills)
	}
	if deps := list("activity_types=CSD"); len(deps) != 1 {
		t.Errorf("CSD filter: %+v", deps)
	}
}

// pagedByOne reads the activity listing at query (ending in ? or &) one
// activity a page, each page's page_token the id of the one before, for
// at most limit pages.
func pagedByOne[T any](query string, limit int, list func(string) []T, id func(T) string) []T {
	var paged []T
	token := ""
	for range limit {
		page := list(query + "page_size=1&page_token=" + token)
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		token = id(page[0])
	}
	return paged
}
