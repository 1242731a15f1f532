"""Hand-written questions over the real Chinook database (see :mod:`envs.sql.chinook`).

The generated domains test schema reasoning on synthetic data; these questions check that a
policy also copes with a real, messier schema (classic Chinook names, NULL composers, duplicate
playlist names, float money).  Each question names its literal values exactly as they appear in
the data, so the gold is unambiguous, and every gold passes :func:`envs.sql.verify.check_gold`
(non-empty, no LIMIT ties); ``tests/test_sql_chinook.py`` enforces both.  Eight per kind.
"""

from __future__ import annotations

from envs.sql.domains.base import GeneratedQuestion as Q

_SELECT = [
    Q("What is the email address of the customer named 'Luís Gonçalves'?",
      "SELECT Email FROM Customer WHERE FirstName = 'Luís' AND LastName = 'Gonçalves'",
      "select", ("Customer",)),
    Q("List the names of all tracks whose composer is 'AC/DC'.",
      "SELECT Name FROM Track WHERE Composer = 'AC/DC'",
      "select", ("Track",)),
    Q("Which employees have the title 'Sales Support Agent'? Give their first and last names.",
      "SELECT FirstName, LastName FROM Employee WHERE Title = 'Sales Support Agent'",
      "select", ("Employee",)),
    Q("What are the names and lengths in milliseconds of the tracks longer than 5,000,000 milliseconds?",
      "SELECT Name, Milliseconds FROM Track WHERE Milliseconds > 5000000",
      "select", ("Track",)),
    Q("List the titles of all albums whose title contains 'Greatest'.",
      "SELECT Title FROM Album WHERE Title LIKE '%Greatest%'",
      "select", ("Album",)),
    Q("Which invoices were billed to the city 'Oslo'? Give each invoice id and its total.",
      "SELECT InvoiceId, Total FROM Invoice WHERE BillingCity = 'Oslo'",
      "select", ("Invoice",)),
    Q("What is the phone number of the employee 'Margaret Park'?",
      "SELECT Phone FROM Employee WHERE FirstName = 'Margaret' AND LastName = 'Park'",
      "select", ("Employee",)),
    Q("List the first names, last names and cities of the customers who live in 'Germany'.",
      "SELECT FirstName, LastName, City FROM Customer WHERE Country = 'Germany'",
      "select", ("Customer",)),
]

_JOIN = [
    Q("List the titles of all albums by the artist 'Led Zeppelin'.",
      "SELECT Album.Title FROM Album JOIN Artist ON Album.ArtistId = Artist.ArtistId WHERE Artist.Name = 'Led Zeppelin'",
      "join", ("Album", "Artist")),
    Q("What are the names of the tracks on the album 'Jagged Little Pill'?",
      "SELECT Track.Name FROM Track JOIN Album ON Track.AlbumId = Album.AlbumId WHERE Album.Title = 'Jagged Little Pill'",
      "join", ("Track", "Album")),
    Q("Which artist recorded the album 'Big Ones'?",
      "SELECT Artist.Name FROM Artist JOIN Album ON Album.ArtistId = Artist.ArtistId WHERE Album.Title = 'Big Ones'",
      "join", ("Artist", "Album")),
    Q("List the names of the tracks in the playlist 'Grunge'.",
      "SELECT Track.Name FROM Track JOIN PlaylistTrack ON PlaylistTrack.TrackId = Track.TrackId "
      "JOIN Playlist ON Playlist.PlaylistId = PlaylistTrack.PlaylistId WHERE Playlist.Name = 'Grunge'",
      "join", ("Track", "PlaylistTrack", "Playlist")),
    Q("What are the first and last names of the support representative of the customer 'Astrid Gruber'?",
      "SELECT e.FirstName, e.LastName FROM Customer c JOIN Employee e ON c.SupportRepId = e.EmployeeId "
      "WHERE c.FirstName = 'Astrid' AND c.LastName = 'Gruber'",
      "join", ("Customer", "Employee")),
    Q("Which employees report to 'Nancy Edwards'? Give their first and last names.",
      "SELECT e.FirstName, e.LastName FROM Employee e JOIN Employee m ON e.ReportsTo = m.EmployeeId "
      "WHERE m.FirstName = 'Nancy' AND m.LastName = 'Edwards'",
      "join", ("Employee",)),
    Q("Which distinct track names did the customer 'Astrid Gruber' buy?",
      "SELECT DISTINCT t.Name FROM Customer c JOIN Invoice i ON i.CustomerId = c.CustomerId "
      "JOIN InvoiceLine il ON il.InvoiceId = i.InvoiceId JOIN Track t ON t.TrackId = il.TrackId "
      "WHERE c.FirstName = 'Astrid' AND c.LastName = 'Gruber'",
      "join", ("Customer", "Invoice", "InvoiceLine", "Track")),
    Q("List the names of the tracks with media type 'Purchased AAC audio file', each with its artist's name.",
      "SELECT t.Name, ar.Name FROM Track t JOIN MediaType m ON t.MediaTypeId = m.MediaTypeId "
      "JOIN Album al ON t.AlbumId = al.AlbumId JOIN Artist ar ON al.ArtistId = ar.ArtistId "
      "WHERE m.Name = 'Purchased AAC audio file'",
      "join", ("Track", "MediaType", "Album", "Artist")),
]

_AGGREGATE = [
    Q("How many tracks are on the album 'Big Ones'?",
      "SELECT COUNT(*) FROM Track JOIN Album ON Track.AlbumId = Album.AlbumId WHERE Album.Title = 'Big Ones'",
      "aggregate", ("Track", "Album")),
    Q("What is the sum of the totals of all invoices dated in 2009?",
      "SELECT ROUND(SUM(Total), 2) FROM Invoice WHERE strftime('%Y', InvoiceDate) = '2009'",
      "aggregate", ("Invoice",)),
    Q("How many customers live in the 'USA'?",
      "SELECT COUNT(*) FROM Customer WHERE Country = 'USA'",
      "aggregate", ("Customer",)),
    Q("What is the average length in milliseconds of the tracks in the genre 'Jazz'?",
      "SELECT AVG(Track.Milliseconds) FROM Track JOIN Genre ON Track.GenreId = Genre.GenreId WHERE Genre.Name = 'Jazz'",
      "aggregate", ("Track", "Genre")),
    Q("How many different artists have at least one track in the genre 'Blues'?",
      "SELECT COUNT(DISTINCT Album.ArtistId) FROM Track JOIN Album ON Track.AlbumId = Album.AlbumId "
      "JOIN Genre ON Track.GenreId = Genre.GenreId WHERE Genre.Name = 'Blues'",
      "aggregate", ("Track", "Album", "Genre")),
    Q("What is the length in milliseconds of the longest track on the album 'Californication'?",
      "SELECT MAX(Track.Milliseconds) FROM Track JOIN Album ON Track.AlbumId = Album.AlbumId "
      "WHERE Album.Title = 'Californication'",
      "aggregate", ("Track", "Album")),
    Q("How much revenue (unit price times quantity) came from sales of tracks in the genre 'Comedy'?",
      "SELECT ROUND(SUM(il.UnitPrice * il.Quantity), 2) FROM InvoiceLine il JOIN Track t ON il.TrackId = t.TrackId "
      "JOIN Genre g ON t.GenreId = g.GenreId WHERE g.Name = 'Comedy'",
      "aggregate", ("InvoiceLine", "Track", "Genre")),
    Q("How many tracks have no composer listed?",
      "SELECT COUNT(*) FROM Track WHERE Composer IS NULL",
      "aggregate", ("Track",)),
]

_GROUP_HAVING = [
    Q("Which artists have more than 10 albums? Give each artist's name and number of albums.",
      "SELECT Artist.Name, COUNT(*) FROM Album JOIN Artist ON Album.ArtistId = Artist.ArtistId "
      "GROUP BY Artist.ArtistId HAVING COUNT(*) > 10",
      "group_having", ("Album", "Artist")),
    Q("For each media type, how many tracks are there? Give the media type name and the count.",
      "SELECT MediaType.Name, COUNT(*) FROM Track JOIN MediaType ON Track.MediaTypeId = MediaType.MediaTypeId "
      "GROUP BY MediaType.MediaTypeId",
      "group_having", ("Track", "MediaType")),
    Q("Which countries have at least 5 customers? Give each country and its number of customers.",
      "SELECT Country, COUNT(*) FROM Customer GROUP BY Country HAVING COUNT(*) >= 5",
      "group_having", ("Customer",)),
    Q("Which genres have an average track length of more than 1,000,000 milliseconds? Give the genre names.",
      "SELECT Genre.Name FROM Track JOIN Genre ON Track.GenreId = Genre.GenreId "
      "GROUP BY Genre.GenreId HAVING AVG(Track.Milliseconds) > 1000000",
      "group_having", ("Track", "Genre")),
    Q("Which customers have spent more than 45 in total across their invoices? "
      "Give their first names, last names and total spent.",
      "SELECT c.FirstName, c.LastName, ROUND(SUM(i.Total), 2) FROM Customer c JOIN Invoice i ON i.CustomerId = c.CustomerId "
      "GROUP BY c.CustomerId HAVING SUM(i.Total) > 45",
      "group_having", ("Customer", "Invoice")),
    Q("Which billing cities have more than 7 invoices? Give each city and its number of invoices.",
      "SELECT BillingCity, COUNT(*) FROM Invoice GROUP BY BillingCity HAVING COUNT(*) > 7",
      "group_having", ("Invoice",)),
    Q("Which albums by the artist 'Iron Maiden' have more than 15 tracks? Give the album titles and track counts.",
      "SELECT al.Title, COUNT(*) FROM Track t JOIN Album al ON t.AlbumId = al.AlbumId "
      "JOIN Artist ar ON al.ArtistId = ar.ArtistId WHERE ar.Name = 'Iron Maiden' "
      "GROUP BY al.AlbumId HAVING COUNT(*) > 15",
      "group_having", ("Track", "Album", "Artist")),
    Q("How many customers does each employee support? Give the employee's first and last names and the count.",
      "SELECT e.FirstName, e.LastName, COUNT(*) FROM Employee e JOIN Customer c ON c.SupportRepId = e.EmployeeId "
      "GROUP BY e.EmployeeId",
      "group_having", ("Employee", "Customer")),
]

_ORDER_LIMIT = [
    Q("Which 3 artists have the most albums? Give their names and album counts, most first.",
      "SELECT Artist.Name, COUNT(*) FROM Album JOIN Artist ON Album.ArtistId = Artist.ArtistId "
      "GROUP BY Artist.ArtistId ORDER BY COUNT(*) DESC LIMIT 3",
      "order_limit", ("Album", "Artist")),
    Q("What are the 3 longest tracks? Give their names and lengths in milliseconds, longest first.",
      "SELECT Name, Milliseconds FROM Track ORDER BY Milliseconds DESC LIMIT 3",
      "order_limit", ("Track",)),
    Q("Which customer has spent the most in total? Give the first name, last name and total spent.",
      "SELECT c.FirstName, c.LastName, ROUND(SUM(i.Total), 2) FROM Customer c JOIN Invoice i ON i.CustomerId = c.CustomerId "
      "GROUP BY c.CustomerId ORDER BY SUM(i.Total) DESC LIMIT 1",
      "order_limit", ("Customer", "Invoice")),
    Q("Which 5 billing countries have the highest invoice totals? Give each country and its total, highest first.",
      "SELECT BillingCountry, ROUND(SUM(Total), 2) FROM Invoice GROUP BY BillingCountry ORDER BY SUM(Total) DESC LIMIT 5",
      "order_limit", ("Invoice",)),
    Q("What is the title of the album with the most tracks, and how many tracks does it have?",
      "SELECT Album.Title, COUNT(*) FROM Track JOIN Album ON Track.AlbumId = Album.AlbumId "
      "GROUP BY Album.AlbumId ORDER BY COUNT(*) DESC LIMIT 1",
      "order_limit", ("Track", "Album")),
    Q("Which genre sold the most track units? Give the genre name and the total quantity sold.",
      "SELECT g.Name, SUM(il.Quantity) FROM InvoiceLine il JOIN Track t ON il.TrackId = t.TrackId "
      "JOIN Genre g ON t.GenreId = g.GenreId GROUP BY g.GenreId ORDER BY SUM(il.Quantity) DESC LIMIT 1",
      "order_limit", ("InvoiceLine", "Track", "Genre")),
    Q("Who is the youngest employee? Give the first and last name.",
      "SELECT FirstName, LastName FROM Employee ORDER BY BirthDate DESC LIMIT 1",
      "order_limit", ("Employee",)),
    Q("List the names of all genres in alphabetical order.",
      "SELECT Name FROM Genre ORDER BY Name",
      "order_limit", ("Genre",)),
]

_NESTED = [
    Q("How many tracks are longer than the average track length?",
      "SELECT COUNT(*) FROM Track WHERE Milliseconds > (SELECT AVG(Milliseconds) FROM Track)",
      "nested", ("Track",)),
    Q("How many artists have no albums at all?",
      "SELECT COUNT(*) FROM Artist WHERE ArtistId NOT IN (SELECT ArtistId FROM Album)",
      "nested", ("Artist", "Album")),
    Q("How many tracks have never been bought?",
      "SELECT COUNT(*) FROM Track WHERE TrackId NOT IN (SELECT TrackId FROM InvoiceLine)",
      "nested", ("Track", "InvoiceLine")),
    Q("List the titles of the albums that contain at least one track in the genre 'Bossa Nova'.",
      "SELECT Title FROM Album WHERE AlbumId IN (SELECT Track.AlbumId FROM Track JOIN Genre ON Track.GenreId = Genre.GenreId "
      "WHERE Genre.Name = 'Bossa Nova')",
      "nested", ("Album", "Track", "Genre")),
    Q("What is the name of the longest track in the genre 'Jazz'?",
      "SELECT t.Name FROM Track t JOIN Genre g ON t.GenreId = g.GenreId WHERE g.Name = 'Jazz' AND t.Milliseconds = "
      "(SELECT MAX(t2.Milliseconds) FROM Track t2 JOIN Genre g2 ON t2.GenreId = g2.GenreId WHERE g2.Name = 'Jazz')",
      "nested", ("Track", "Genre")),
    Q("Which employees support no customers? Give their first and last names.",
      "SELECT FirstName, LastName FROM Employee WHERE EmployeeId NOT IN "
      "(SELECT SupportRepId FROM Customer WHERE SupportRepId IS NOT NULL)",
      "nested", ("Employee", "Customer")),
    Q("Which artists have a track in the playlist 'Grunge'? Give the artist names.",
      "SELECT Name FROM Artist WHERE ArtistId IN (SELECT Album.ArtistId FROM Album JOIN Track ON Track.AlbumId = Album.AlbumId "
      "WHERE Track.TrackId IN (SELECT PlaylistTrack.TrackId FROM PlaylistTrack JOIN Playlist "
      "ON Playlist.PlaylistId = PlaylistTrack.PlaylistId WHERE Playlist.Name = 'Grunge'))",
      "nested", ("Artist", "Album", "Track", "PlaylistTrack", "Playlist")),
    Q("How many invoices have a total above the average invoice total?",
      "SELECT COUNT(*) FROM Invoice WHERE Total > (SELECT AVG(Total) FROM Invoice)",
      "nested", ("Invoice",)),
]

CHINOOK_QUESTIONS: list[Q] = _SELECT + _JOIN + _AGGREGATE + _GROUP_HAVING + _ORDER_LIMIT + _NESTED
