"""The GraphQL documents the Nexar client sends, one ``.graphql`` file each."""
