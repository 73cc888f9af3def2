//! Windows time zone ids and IANA names. We send IANA names
//! (`timeZoneInfoId`); .NET resolves both forms, and which one an instance
//! answers is not documented, so a schedule read back may carry the Windows
//! id of the zone it was given.
//!
//! The table is a subset of CLDR's `windowsZones.xml` (the zones an MSP is
//! most likely to use). A Windows id paired with an IANA name the table does
//! not know is taken as the same zone: we cannot tell, and reporting drift
//! we cannot correct would rewrite the schedule on every poll.

/// (IANA name, Windows id).
const TABLE: &[(&str, &str)] = &[
    ("UTC", "UTC"),
    ("Etc/UTC", "UTC"),
    ("Europe/London", "GMT Standard Time"),
    ("Europe/Dublin", "GMT Standard Time"),
    ("Europe/Lisbon", "GMT Standard Time"),
    ("Atlantic/Reykjavik", "Greenwich Standard Time"),
    ("Europe/Berlin", "W. Europe Standard Time"),
    ("Europe/Amsterdam", "W. Europe Standard Time"),
    ("Europe/Rome", "W. Europe Standard Time"),
    ("Europe/Vienna", "W. Europe Standard Time"),
    ("Europe/Zurich", "W. Europe Standard Time"),
    ("Europe/Stockholm", "W. Europe Standard Time"),
    ("Europe/Oslo", "W. Europe Standard Time"),
    ("Europe/Paris", "Romance Standard Time"),
    ("Europe/Brussels", "Romance Standard Time"),
    ("Europe/Madrid", "Romance Standard Time"),
    ("Europe/Copenhagen", "Romance Standard Time"),
    ("Europe/Warsaw", "Central European Standard Time"),
    ("Europe/Prague", "Central Europe Standard Time"),
    ("Europe/Budapest", "Central Europe Standard Time"),
    ("Europe/Athens", "GTB Standard Time"),
    ("Europe/Bucharest", "GTB Standard Time"),
    ("Europe/Helsinki", "FLE Standard Time"),
    ("Europe/Kiev", "FLE Standard Time"),
    ("Europe/Kyiv", "FLE Standard Time"),
    ("Europe/Istanbul", "Turkey Standard Time"),
    ("Europe/Moscow", "Russian Standard Time"),
    ("Africa/Johannesburg", "South Africa Standard Time"),
    ("Africa/Cairo", "Egypt Standard Time"),
    ("Asia/Dubai", "Arabian Standard Time"),
    ("Asia/Kolkata", "India Standard Time"),
    ("Asia/Singapore", "Singapore Standard Time"),
    ("Asia/Shanghai", "China Standard Time"),
    ("Asia/Hong_Kong", "China Standard Time"),
    ("Asia/Tokyo", "Tokyo Standard Time"),
    ("Asia/Seoul", "Korea Standard Time"),
    ("Australia/Perth", "W. Australia Standard Time"),
    ("Australia/Adelaide", "Cen. Australia Standard Time"),
    ("Australia/Brisbane", "E. Australia Standard Time"),
    ("Australia/Sydney", "AUS Eastern Standard Time"),
    ("Australia/Melbourne", "AUS Eastern Standard Time"),
    ("Pacific/Auckland", "New Zealand Standard Time"),
    ("America/St_Johns", "Newfoundland Standard Time"),
    ("America/Halifax", "Atlantic Standard Time"),
    ("America/New_York", "Eastern Standard Time"),
    ("America/Toronto", "Eastern Standard Time"),
    ("America/Detroit", "Eastern Standard Time"),
    ("America/Indiana/Indianapolis", "US Eastern Standard Time"),
    ("America/Chicago", "Central Standard Time"),
    ("America/Winnipeg", "Central Standard Time"),
    ("America/Mexico_City", "Central Standard Time (Mexico)"),
    ("America/Regina", "Canada Central Standard Time"),
    ("America/Denver", "Mountain Standard Time"),
    ("America/Edmonton", "Mountain Standard Time"),
    ("America/Phoenix", "US Mountain Standard Time"),
    ("America/Los_Angeles", "Pacific Standard Time"),
    ("America/Vancouver", "Pacific Standard Time"),
    ("America/Anchorage", "Alaskan Standard Time"),
    ("Pacific/Honolulu", "Hawaiian Standard Time"),
    ("America/Sao_Paulo", "E. South America Standard Time"),
    ("America/Argentina/Buenos_Aires", "Argentina Standard Time"),
    ("America/Bogota", "SA Pacific Standard Time"),
];

/// The Windows id of an IANA zone the table knows.
pub fn windows_id(iana: &str) -> Option<&'static str> {
    TABLE.iter().find(|(i, _)| *i == iana).map(|(_, w)| *w)
}

/// An IANA zone with the rules of a Windows id the table knows (the first
/// listed; any zone of that id has the same rules).
pub fn iana_of(windows: &str) -> Option<&'static str> {
    TABLE.iter().find(|(_, w)| *w == windows).map(|(i, _)| *i)
}

fn is_windows_id(id: &str) -> bool {
    TABLE.iter().any(|(_, w)| *w == id) || (id.contains(' ') && !id.contains('/'))
}

/// Whether two `timeZoneInfoId` values mean the same zone to ImmyBot.
pub fn same_zone(a: Option<&str>, b: Option<&str>) -> bool {
    let (a, b) = match (a, b) {
        (None, None) => return true,
        (Some(a), Some(b)) => (a, b),
        _ => return false,
    };
    if a == b {
        return true;
    }
    let pair = |iana: &str, windows: &str| match windows_id(iana) {
        Some(w) => w == windows,
        // A zone the table does not know: we cannot tell them apart.
        None => true,
    };
    match (is_windows_id(a), is_windows_id(b)) {
        (false, true) => pair(a, b),
        (true, false) => pair(b, a),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iana_and_windows_forms_of_one_zone_are_the_same() {
        assert!(same_zone(Some("Europe/Berlin"), Some("W. Europe Standard Time")));
        assert!(same_zone(Some("Eastern Standard Time"), Some("America/New_York")));
        assert!(!same_zone(Some("Europe/Berlin"), Some("Eastern Standard Time")));
        assert!(!same_zone(Some("Europe/Berlin"), Some("America/New_York")));
        assert!(!same_zone(Some("Europe/Berlin"), None));
        // Not in the table: cannot be told apart, so not drift.
        assert!(same_zone(Some("Asia/Kathmandu"), Some("Nepal Standard Time")));
    }
}
