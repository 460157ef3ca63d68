//! Web Push: the message is encrypted for the subscription (aes128gcm, RFC 8291), signed
//! with the service's VAPID key (RFC 8292), and posted with the service's own client.

use data_encoding::BASE64URL_NOPAD;
use web_push::{ContentEncoding, SubscriptionInfo, Urgency, WebPushMessageBuilder};

use super::http::{self, Attempt};
use super::vapid::VapidKey;
use crate::store::{PushSubscription, endpoint_origin};

/// Web Push as configured: the key and the operator's contact (the VAPID `sub`).
#[derive(Clone, Debug)]
pub struct Push {
    pub key: VapidKey,
    pub contact: String,
}

/// One push message, before encryption.
#[derive(Debug)]
pub struct PushMessage<'a> {
    pub payload: &'a [u8],
    /// Seconds the push service keeps it for an offline device.
    pub ttl: u32,
    pub topic: &'a str,
}

impl Push {
    /// Encrypts, signs and sends one message to one subscription.
    pub async fn send(
        &self,
        client: &reqwest::Client,
        subscription: &PushSubscription,
        message: &PushMessage<'_>,
        now: i64,
    ) -> Attempt {
        let built = match self.build(subscription, message) {
            Ok(built) => built,
            Err(e) => return Attempt::failed(e),
        };
        let mut request = client
            .post(&subscription.endpoint)
            .header("TTL", message.ttl.to_string())
            .header("Urgency", "high")
            .header("Topic", message.topic)
            .header("Content-Type", "application/octet-stream")
            .header("Content-Encoding", built.encoding);
        for (name, value) in built.headers {
            request = request.header(name, value);
        }
        http::send(request.body(built.body), true, now).await
    }

    fn build(
        &self,
        subscription: &PushSubscription,
        message: &PushMessage<'_>,
    ) -> Result<Built, String> {
        let info = SubscriptionInfo::new(
            subscription.endpoint.clone(),
            BASE64URL_NOPAD.encode(&subscription.p256dh),
            BASE64URL_NOPAD.encode(&subscription.auth),
        );
        let mut vapid = self.key.signer().add_sub_info(&info);
        // web-push derives `aud` without the port; the origin includes it (RFC 8292 §2).
        vapid.add_claim("aud", endpoint_origin(&subscription.endpoint));
        vapid.add_claim("sub", self.contact.as_str());
        let signature = vapid
            .build()
            .map_err(|e| format!("cannot sign the VAPID token: {e}"))?;
        let mut builder = WebPushMessageBuilder::new(&info);
        builder.set_ttl(message.ttl);
        builder.set_urgency(Urgency::High);
        builder.set_topic(message.topic.to_owned());
        builder.set_vapid_signature(signature);
        builder.set_payload(ContentEncoding::Aes128Gcm, message.payload);
        let built = builder
            .build()
            .map_err(|e| format!("cannot build the push message: {e}"))?;
        let payload = built
            .payload
            .ok_or_else(|| "the push message has no payload".to_owned())?;
        Ok(Built {
            encoding: payload.content_encoding.to_str(),
            headers: payload.crypto_headers,
            body: payload.content,
        })
    }
}

/// An encrypted, signed message ready to post.
struct Built {
    encoding: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}
