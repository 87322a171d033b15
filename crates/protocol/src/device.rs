//! The device authorization grant's wire types, RFC 8628: the device authorization
//! response (§3.2) and the user's answer on the verification page (§3.3).

use serde::{Deserialize, Serialize};

/// The device authorization response (§3.2), as the server sends it and the client reads it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeviceAuthorization {
    /// The device verification code, secret: the device polls with it (§3.4).
    pub device_code: String,
    /// The code the user types on the verification page.
    pub user_code: String,
    /// Where the user goes.
    pub verification_uri: String,
    /// The same with the user code filled in (OPTIONAL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_uri_complete: Option<String>,
    /// Lifetime of the codes, in seconds.
    pub expires_in: i64,
    /// Minimum seconds between polls (OPTIONAL; "If no value is provided, clients MUST use
    /// 5 as the default").
    #[serde(default = "default_interval")]
    pub interval: i64,
}

/// §3.2: the polling interval when the server names none.
pub const DEFAULT_INTERVAL: i64 = 5;

fn default_interval() -> i64 {
    DEFAULT_INTERVAL
}

/// The user's answer to a device's request on the verification page (§3.3): "the user ...
/// approve[s] or den[ies] the request". Kept by its name (`allow`, `deny`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceDecision {
    /// The user approved: the device's next poll gets tokens (§3.5).
    Allow,
    /// The user refused: the device's next poll gets `access_denied` (§3.5).
    Deny,
}

impl DeviceDecision {
    /// The decision's name: `allow` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceDecision::Allow => "allow",
            DeviceDecision::Deny => "deny",
        }
    }

    /// The decision of this name; `None` for anything else (no case folding).
    pub fn parse(name: &str) -> Option<DeviceDecision> {
        match name {
            "allow" => Some(DeviceDecision::Allow),
            "deny" => Some(DeviceDecision::Deny),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc8628_3_2_response_round_trips_with_optional_members() {
        let full = DeviceAuthorization {
            device_code: "lkd_x".into(),
            user_code: "BCDF-GHJK".into(),
            verification_uri: "https://as.example/device".into(),
            verification_uri_complete: Some("https://as.example/device?user_code=BCDF-GHJK".into()),
            expires_in: 600,
            interval: 5,
        };
        let wire = serde_json::to_value(&full).unwrap();
        assert_eq!(
            wire,
            json!({
                "device_code": "lkd_x",
                "user_code": "BCDF-GHJK",
                "verification_uri": "https://as.example/device",
                "verification_uri_complete": "https://as.example/device?user_code=BCDF-GHJK",
                "expires_in": 600,
                "interval": 5,
            })
        );
        assert_eq!(serde_json::from_value::<DeviceAuthorization>(wire).unwrap(), full);
        let without = DeviceAuthorization { verification_uri_complete: None, ..full };
        assert!(serde_json::to_value(&without).unwrap().get("verification_uri_complete").is_none());
    }

    #[test]
    fn rfc8628_3_2_interval_defaults_to_5() {
        let minimal = json!({
            "device_code": "d", "user_code": "u", "verification_uri": "https://as.example/device", "expires_in": 60,
        });
        let read: DeviceAuthorization = serde_json::from_value(minimal).unwrap();
        assert_eq!(read.interval, 5);
        assert_eq!(read.verification_uri_complete, None);
    }

    #[test]
    fn rfc8628_3_3_decision_is_allow_or_deny() {
        for d in [DeviceDecision::Allow, DeviceDecision::Deny] {
            assert_eq!(DeviceDecision::parse(d.as_str()), Some(d));
        }
        for other in ["", "Allow", "DENY", "yes", "allow "] {
            assert_eq!(DeviceDecision::parse(other), None, "{other:?}");
        }
    }
}
