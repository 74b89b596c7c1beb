//! Outgoing mail: an SMTP client (lettre) and the mails tachi-auth writes.
//!
//! `smtp://` starts in plain text and upgrades with STARTTLS when the server
//! offers it; `smtps://` speaks TLS from the start. A user and password in
//! the URL are used to log in. Nothing here logs a mail's contents.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Where mail goes and what it says about the site.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The server's public URL, without a trailing slash: the links' base.
    pub public_url: String,
    pub site_name: String,
}

/// A mail to send: its subject and its two bodies.
pub struct Mail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Whether `address` can be a mail's sender (`--mail-from`): the reason if not.
pub fn check_address(address: &str) -> Result<(), String> {
    address.parse::<Mailbox>().map(|_| ()).map_err(|e| format!("not a mail address: {e}"))
}

impl Mailer {
    /// A mailer for `smtp_url`, sending as `from`. The error names what is
    /// wrong with the settings (never the URL's password).
    pub fn new(smtp_url: &str, from: &str, public_url: &url::Url, site_name: &str) -> Result<Mailer, String> {
        let url = url::Url::parse(smtp_url).map_err(|e| format!("--smtp-url is not a URL: {e}"))?;
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or("--smtp-url has no host")?.to_owned();
        let tls_params = TlsParameters::new(host.clone()).map_err(|e| format!("TLS set-up for {host}: {e}"))?;
        let (tls, default_port) = match url.scheme() {
            "smtp" => (Tls::Opportunistic(tls_params), 25),
            "smtps" => (Tls::Wrapper(tls_params), 465),
            other => return Err(format!("--smtp-url must start with smtp:// or smtps://, not {other}://")),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(url.port().unwrap_or(default_port))
            .tls(tls)
            .timeout(Some(Duration::from_secs(20)));
        if !url.username().is_empty() {
            let decode = |s: &str| percent_decode(s);
            let user = decode(url.username());
            let password = decode(url.password().unwrap_or(""));
            builder = builder.credentials(Credentials::new(user, password));
        }
        let from: Mailbox = from.parse().map_err(|e| format!("--mail-from is not a mail address: {e}"))?;
        Ok(Mailer {
            transport: builder.build(),
            from,
            public_url: public_url.as_str().trim_end_matches('/').to_owned(),
            site_name: site_name.to_owned(),
        })
    }

    /// Sends one mail; the error says why not (for the log: it holds no code).
    pub async fn send(&self, to: &str, mail: Mail) -> Result<(), String> {
        let to: Mailbox = to.parse().map_err(|e| format!("the recipient's address is not valid: {e}"))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .multipart(MultiPart::alternative_plain_html(mail.text, mail.html))
            .map_err(|e| format!("the mail could not be built: {e}"))?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| e.to_string())
    }

    /// The mail with a password reset link.
    pub fn reset_mail(&self, username: &str, code: &str, lifetime: Duration) -> Mail {
        let link = format!("{}/reset-password?code={code}", self.public_url);
        let site = &self.site_name;
        let valid = describe(lifetime);
        Mail {
            subject: format!("Reset your {site} password"),
            text: format!(
                "Hello {username},\n\n\
                 someone (hopefully you) asked to reset the password of your {site} account.\n\
                 To choose a new password, open this link:\n\n{link}\n\n\
                 or enter this code on the reset page: {code}\n\n\
                 The link works once, for {valid}. If you did not ask for this, ignore this mail: \
                 your password stays as it is.\n\n{site}\n"
            ),
            html: format!(
                "<p>Hello {user},</p>\
                 <p>someone (hopefully you) asked to reset the password of your {esite} account.</p>\
                 <p><a href=\"{link}\">Choose a new password</a></p>\
                 <p>or enter this code on the reset page: <code>{code}</code></p>\
                 <p>The link works once, for {valid}. If you did not ask for this, ignore this mail: \
                 your password stays as it is.</p><p>{esite}</p>",
                user = escape(username),
                esite = escape(site),
                link = escape(&link),
            ),
        }
    }

    /// The mail with an e-mail verification link.
    pub fn verify_mail(&self, username: &str, code: &str, lifetime: Duration) -> Mail {
        let link = format!("{}/verify-email?code={code}", self.public_url);
        let site = &self.site_name;
        let valid = describe(lifetime);
        Mail {
            subject: format!("Verify your e-mail address for {site}"),
            text: format!(
                "Hello {username},\n\n\
                 to confirm that this is your e-mail address on {site}, open this link:\n\n{link}\n\n\
                 or enter this code on the verification page: {code}\n\n\
                 The link works once, for {valid}. If you have no {site} account, ignore this mail.\n\n{site}\n"
            ),
            html: format!(
                "<p>Hello {user},</p>\
                 <p>to confirm that this is your e-mail address on {esite}, open this link:</p>\
                 <p><a href=\"{link}\">Verify my e-mail address</a></p>\
                 <p>or enter this code on the verification page: <code>{code}</code></p>\
                 <p>The link works once, for {valid}. If you have no {esite} account, ignore this mail.</p>\
                 <p>{esite}</p>",
                user = escape(username),
                esite = escape(site),
                link = escape(&link),
            ),
        }
    }
}

/// "1 hour", "7 days", "90 seconds".
fn describe(d: Duration) -> String {
    let s = d.as_secs();
    let (n, unit) = match s {
        s if s % 86_400 == 0 && s > 0 => (s / 86_400, "day"),
        s if s % 3600 == 0 && s > 0 => (s / 3600, "hour"),
        s if s % 60 == 0 && s > 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_read_well() {
        assert_eq!(describe(Duration::from_secs(3600)), "1 hour");
        assert_eq!(describe(Duration::from_secs(7 * 86_400)), "7 days");
        assert_eq!(describe(Duration::from_secs(90)), "90 seconds");
    }

    #[test]
    fn urls_are_checked_and_credentials_decoded() {
        let public = url::Url::parse("https://auth.example").unwrap();
        assert!(Mailer::new("http://mail.example", "a@example.org", &public, "Tachi").is_err());
        assert!(Mailer::new("smtp://mail.example:2525", "not an address", &public, "Tachi").is_err());
        assert!(Mailer::new("smtps://u%40x:p%2Bw@mail.example", "a@example.org", &public, "Tachi").is_ok());
        assert_eq!(percent_decode("p%2Bw+x"), "p+w+x");
    }
}
